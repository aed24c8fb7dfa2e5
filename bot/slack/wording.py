"""Everything the bot says in Slack only (Block Kit labels, forms, App Home, set-up): the
channel's own wording lives with its channel; neutral sentences stay in workflows/messages.py."""

from __future__ import annotations

SLACK_HELP = (
    "*/careers review*: start or carry on the self-review, in a direct message with me\n"
    "*/careers review new*: start the next review from the last one's answers "
    "(*/careers review new blank* starts from nothing)\n"
    "*/careers actions*: the open actions (also *actions mine*, *actions due*, "
    "*actions overdue*)\n"
    "*/careers plan*: the summary and action plan, with the Word and Excel files\n"
    "*/careers evidence*, */careers governors*, */careers policy*: the evidence pack, the "
    "governors' report and a CEIAG policy draft, as Word files (or type 'evidence pack', "
    "'governors report', 'policy draft' in our direct message)\n"
    "The Careers Leader can type 'set link governor <name>', 'set careers hub <name>' and "
    "'governors report with digest on' (or off) in our direct message\n"
    "*/careers setup*: the organisation's name, edition, SLT channel, weekly digest and "
    "who answers or views\n"
    "*/careers help*: this list\n"
    "In our direct message you can also type any answer or command, e.g. '3', 'back', "
    "'go 2.3', 'summary', 'what is LMI?'."
)
SLACK_SENT_TO_DM = "I've replied in our direct message."
SLACK_BUTTONS = {"back": "Back", "skip": "Skip", "pause": "Pause"}
SLACK_ADD_LINKS = "Add links…"
SLACK_PRIORITY_FORM = "Priority details…"
SLACK_NO_DESCRIPTOR = "(no descriptor at this level in the model)"
SLACK_YOUR_ANSWER = "Your answer"
SLACK_LAST_REVIEW = "Last review"
SLACK_BENCHMARKS = "Gatsby {word} {numbers}"
SLACK_ANSWERED = "Answered: {choice} ({name})"
SLACK_ANSWERED_IN_FORM = "Answered in the form ({name})"
SLACK_MOVED_ON = "This question has already been answered or the review has moved on."
SLACK_PROGRESS = "{progress} · {answered} of {total} answered"
SLACK_SUMMARY_CAPTION = (
    "{answered} of {total} answered · {priorities} priority action areas · "
    "{strengths} areas of strength"
)
SLACK_SUMMARY_ROW_PRIORITY = "priority"
SLACK_SUMMARY_ROW_STRENGTH = "strength"
SLACK_PLAN_EMPTY = "No priority action areas yet, so the action plan is empty."
SLACK_PLAN_ROW = (
    "*{area}*\n"
    "*Now (level {current}):* {position}\n"
    "*Aiming for (level {target}):* {improve}\n"
    "*Next steps:*\n{steps}\n"
    "*By when / who:* {by_when}"
)
SLACK_PLAN_FILES = "The summary and action plan as documents: {files}."
SLACK_DOCUMENT_PREPARING = "Preparing the {document}: it follows here as a Word file."
SLACK_DOCUMENT_FILE = "{document}: {name}"
SLACK_DIGEST_DOCUMENT = "This half-term's governors' report, for the link governor: {name}"
SLACK_DOCUMENT_FAILED = (
    "Sorry, the {document} could not be made just now. Nothing is lost: ask again in a minute."
)
SLACK_ACTION_LINE = (
    "*#{id} {label}*\nLevel {current} → {target} · {owners} · {by_when} · {status}\n{steps}"
)
SLACK_ACTION_OVERDUE = "OVERDUE"
SLACK_ACTION_HISTORY = "History"
SLACK_MARK_DONE = "Mark done"
SLACK_UPDATE_ACTION = "Add an update…"
SLACK_ACTION_CLICKED = "{result} ({name})"
SLACK_EVIDENCE_TITLE = "Evidence links"
SLACK_EVIDENCE_INTRO = (
    "Evidence for *{label}*: up to three web links (http:// or https://), each with a label "
    "if you like."
)
SLACK_LINK_LABEL = "Label for link {n}"
SLACK_LINK_URL = "Link {n}"
SLACK_LINK_LABEL_HINT = "e.g. Careers plan"
SLACK_PRIORITY_TITLE = "Priority details"
SLACK_PRIORITY_INTRO = "*{label}*: you are at level {level}."
SLACK_TARGET = "Target level"
SLACK_NEXT_STEPS = "Next steps"
SLACK_NEXT_STEPS_HINT = "One step per line."
SLACK_OWNERS_PEOPLE = "Owners: people"
SLACK_OWNERS_TEXT = "Owners: initials or teams"
SLACK_OWNERS_TEXT_HINT = "e.g. SR, HOFS / ALL STAFF"
SLACK_DUE = "By when"
SLACK_SAVE = "Save"
SLACK_CANCEL = "Cancel"
SLACK_FORM_STALE = (
    "The review has moved on since this form was opened: close it and answer the question "
    "it is on now."
)
SLACK_NO_LINKS = "Add at least one link, or close this form and choose 'Done'."
SLACK_REQUIRED = "Please fill this in."
SLACK_PEOPLE_LOOKUP_FAILED = "I couldn't look up one of these people just now: please try again."
SLACK_UPDATE_TITLE = "Update action #{id}"
SLACK_UPDATE_NOTE = "What has happened?"
SLACK_UPDATE_LINK = "Link (optional)"
SLACK_NOT_THIS_WORKSPACE = (
    "This bot belongs to another workspace's organisation: its review can only be seen and "
    "answered by people in that workspace."
)
SLACK_HOME_TITLE = "Careers Impact review"
SLACK_HOME_NO_REVIEW = "No review has started yet. Start one with the button or */careers review*."
SLACK_HOME_PROGRESS = "*{title}*\n{answered} of {total} statements answered{state}."
SLACK_HOME_COMPLETE = ", complete"
SLACK_HOME_PAUSED = ", paused"
SLACK_HOME_OPEN = "Open the review"
SLACK_HOME_PROFILE = "Maturity profile by theme"
SLACK_HOME_THEME = "*Theme {number}: {title}*\n{bar} {average} ({answered}/{total} answered)"
SLACK_HOME_NOT_ANSWERED = "not answered yet"
SLACK_HOME_MY_ACTIONS = "My actions"
SLACK_HOME_ROLE = "{organisation} · your role: {role}"
SLACK_HOME_NO_ROLE = "You have no role in {organisation} yet: ask the Careers Leader to add you."
SLACK_SETUP_TITLE = "Set up"
SLACK_SETUP_NAME = "Organisation name"
SLACK_SETUP_EDITION = "Edition of the maturity model"
SLACK_SETUP_SLT_CHANNEL = "SLT channel for the weekly digest"
SLACK_SETUP_DIGEST_DAY = "Digest day"
SLACK_SETUP_DIGEST_TIME = "Digest time"
SLACK_SETUP_LEADER = "Careers Leader"
SLACK_SETUP_COLLEAGUES = "Colleagues who answer the review"
SLACK_SETUP_SLT = "Senior leaders who view"
SLACK_SETUP_DAYS = {
    "monday": "Monday",
    "tuesday": "Tuesday",
    "wednesday": "Wednesday",
    "thursday": "Thursday",
    "friday": "Friday",
}
SLACK_SETUP_NOT_ALLOWED = (
    "Only the Careers Leader or a workspace admin can change the set-up. Ask your Careers "
    "Leader, or a Slack admin."
)
SLACK_SETUP_SAVED = (
    "Set-up saved for {name} ({edition} edition). Careers Leader: {leader}. Colleagues who "
    "answer: {colleagues}. Senior leaders who view: {slt}. Weekly digest: {digest}."
)
SLACK_SETUP_DIGEST = "{channel} on {day}s at {time}"
SLACK_SETUP_NO_DIGEST = "no SLT channel chosen"
SLACK_SETUP_NOBODY = "none"
SLACK_SETUP_INVITE = "Please invite me to {channel} so that I can post the digest there."
SLACK_NOT_SAVED = (
    "Sorry, that answer was not saved: the service is busy. Please try again "
    "(send it or press the button again)."
)
SLACK_NOTE = "Note"

# ----- groups ---------------------------------------------------------------------------------
SLACK_GROUP_CAPTION = (
    "Figures from fewer than 5 schools are suppressed. Type 'group xlsx' for the workbook."
)
SLACK_GROUP_INVITATION = (
    ":handshake: *{group}* ({kind}) invites *{school}* to join. Its leads would see your "
    "review's progress and levels; other schools see only group figures. Only the Careers "
    "Leader can answer."
)
SLACK_GROUP_JOIN = "Join the group"
SLACK_GROUP_DECLINE = "Decline"
SLACK_GROUP_WORKBOOK_PREPARING = "Preparing the group view as an Excel workbook…"
SLACK_GROUP_WORKBOOK_FILE = "The group view of {group} as an Excel workbook: {name}"
SLACK_GROUP_WORKBOOK_FAILED = "The group workbook could not be made. Please try again."
SLACK_HOME_DASHBOARD = (
    ":bar_chart: *<{url}|Open your dashboard>*: the maturity profile, actions and evidence on "
    "one page. The link is for you alone (until {until})."
)
