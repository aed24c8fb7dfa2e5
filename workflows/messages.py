"""Every sentence the bot says, in one place, so wording can be reviewed and changed together."""

from __future__ import annotations

from workflows.deadlines import ACCEPTED as DEADLINES_ACCEPTED

HELP = (
    "I take you through the Careers Impact maturity model one statement at a time.\n"
    "For each statement: choose the level (1-4) that best describes where you are now, add any "
    "evidence links, a note, and say whether it is an area of strength, a priority action area, "
    "or neither. For priorities I ask for a target level, next steps, owners and a half-term "
    "deadline.\n"
    "Commands at any time:\n"
    "- back: the previous question\n"
    "- skip: leave this statement for now\n"
    "- go 2.3: go to a statement (to answer or change it)\n"
    "- pause: stop here; everything answered is saved\n"
    "- resume: carry on at the first unanswered statement\n"
    "- summary / plan: see the summary grid or the action plan so far\n"
    "- what is LMI?: look up a term in the glossary\n"
    "- my actions, due, overdue, done 12, progress 12 <note>, move 12 to HT5: follow the actions"
)

ASK_PARTICIPANTS = (
    "Who is taking part in this review? Type their names separated by commas "
    "(you are included already), or 'just me'."
)
ASK_LEVEL = "Which level best describes where you are now? Reply 1, 2, 3 or 4."
ASK_LEVEL_KEEP = "Reply with a level to change it, or 'keep' to leave it as it is."
ASK_LEVEL_CARRIED = "Reply 'keep' if this is still right, or a level (1-4) to change it."
ASK_EVIDENCE = (
    "Any evidence links? Paste one or more web links (http:// or https://), with a label in "
    "front if you like, e.g. 'Careers plan https://school.example/plan'. Type 'done' when "
    "you have no more."
)
ASK_NOTE = "Any note to keep with this answer? Type it, or 'none'."
ASK_FLAG = "Is this an area of strength, a priority action area, or neither?"
ASK_NEXT_STEPS = (
    "What are the next steps? Separate several steps with ';' "
    "(e.g. 'Share the plan with governors; Review it each term')."
)
ASK_OWNERS = (
    "Who owns this action? Names or initials, separated by commas or '/' "
    "(e.g. 'SR, NR' or 'HOFS / ALL STAFF')."
)
ASK_DUE = f"By when? Give {DEADLINES_ACCEPTED}."
KEEP_HINT = "Type 'keep' to leave it as it is."

NOT_A_LEVEL = (
    "I need a level: reply 1, 2, 3 or 4 (the level whose description best fits you now). "
    "Type 'help' for other commands."
)
NO_SUCH_LEVEL = "There is no level {value}: the model has levels 1 to 4. Reply 1, 2, 3 or 4."
NOTHING_TO_KEEP = "There is no earlier answer to keep here. Reply 1, 2, 3 or 4."
NOT_A_FLAG = (
    "Please reply 'strength' (an area of strength), 'priority' (a priority action area) "
    "or 'neither'."
)
PRIORITY_AT_TOP = (
    "Level 4 is the top level, so there is no higher target to plan for. Reply 'strength' "
    "or 'neither'."
)
NOT_A_TARGET = "The target must be a level above your current level {level}: reply {options}."
NO_NEXT_STEPS = "Please write at least one next step, e.g. 'Share the careers plan with governors'."
NO_OWNERS = "Please name at least one owner: a name or initials, e.g. 'SR' or 'ALL STAFF'."
OWNER_TOO_LONG = (
    "“{name}” is too long for an owner: use a name or initials (at most 60 characters)."
)
NO_LINK = (
    "“{text}” is not a link I can save. Evidence links must start with http:// or https://, "
    "e.g. https://school.example/careers-plan. Type 'done' when you have no more."
)
BAD_LINK = (
    "I can't save “{url}”: evidence links must be web addresses starting with http:// or "
    "https://. Nothing from that message was saved; the links you gave before are kept."
)
TOO_MANY_LINKS = (
    "That would make more than {limit} links for one statement; remove some first ('clear')."
)
LINKS_SAVED = "Saved {added} link{s} ({total} in all). Add another, or type 'done'."
LINKS_ALREADY = "That link is already saved. Add another, or type 'done'."
LINKS_CLEARED = "Removed all evidence links for this statement."
NOTE_TOO_LONG = "That note is {length} characters; please keep it under {limit}."

DEADLINE_SET = "Deadline: {label}."
LEVEL_SAVED = "Level {level} saved for {label}."
STATEMENT_SAVED = "Saved {label}: {summary}."
STATEMENT_KEPT = "Kept your answer for {label}: {summary}."
NO_SUCH_STATEMENT = (
    "There is no statement “{value}” in the {edition} edition. Statements run from 1.1 to {last}."
)
FIRST_STATEMENT = "This is the first statement; there is nothing before it."
NOTHING_BEFORE = "There is nothing to go back to yet."
ONLY_ONE_LEFT = "This is the only statement still to answer."
SKIPPED = "Skipped {label} for now; it will come round again before the end."
PAUSED = (
    "Paused at {label}. Everything you've answered is saved ({answered} of {total}). "
    "Type 'resume' to carry on."
)
STILL_PAUSED = "This review is paused. Type 'resume' to carry on, or 'help'."
WELCOME_BACK = "Welcome back: {answered} of {total} statements answered. Carrying on at {label}."
STARTED = (
    "Starting “{title}” ({edition} edition, {total} statements). Everything is saved as you "
    "go; type 'pause' to stop and 'help' for commands."
)
STARTED_FROM = (
    "Your answers from “{previous}” are shown with each statement: type 'keep' to confirm one "
    "or choose a new level."
)
PARTICIPANTS_SAVED = "Taking part: {names}."
COMPLETE = "That's every statement answered. Here are your summary and action plan."
UPDATED_COMPLETE = "Updated. Here are your summary and action plan as they stand."
ALREADY_COMPLETE = (
    "This review is complete. Type 'go 2.3' to change an answer, or 'summary' or 'plan' to see "
    "them again."
)
GLOSSARY_UNKNOWN = "“{term}” is not in the glossary."
GLOSSARY_ANSWER = "{term}: {definition}"
EMPTY_INPUT = "I didn't get anything there: please type an answer, or 'help'."

# ----- actions ---------------------------------------------------------------------------
ACTION_NEEDS_NOTE = (
    "Say what has happened, e.g. 'progress {id} Shared the plan with governors "
    "https://school.example/minutes'."
)
REASSIGN_HOW = "Say who to, e.g. 'reassign {id} to NR' or 'reassign {id} to HOFS / ALL STAFF'."
NO_SUCH_ACTION = (
    "There is no action #{id} here. Type 'actions' to see the open actions and their numbers."
)
ACTION_UPDATED = {
    "done": "Marked action #{id} ({label}) as done.",
    "progress": "Noted progress on action #{id} ({label}).",
    "dropped": "Dropped action #{id} ({label}).",
    "reassigned": "Action #{id} ({label}) now belongs to {owners}.",
    "deadline": "Action #{id} ({label}) is now due {by_when}.",
    "snoozed": "Reminders for action #{id} ({label}) are paused for a week.",
}
NO_ACTIONS = {
    "mine": "You have no open actions.",
    "all": "There are no open actions.",
    "due": "No open actions are due this half-term.",
    "overdue": "Nothing is overdue.",
}
ACTION_LISTS = {
    "mine": "Your open actions",
    "all": "Open actions",
    "due": "Actions due by the end of this half-term",
    "overdue": "Overdue actions",
}
ACTION_COMMANDS_HELP = (
    "Actions: 'my actions', 'actions', 'due', 'overdue', 'action 12' (with its history), "
    "'progress 12 <note> [link]', 'done 12 [note] [link]', 'reassign 12 to NR', "
    "'move 12 to HT5', 'drop 12 [reason]'."
)
NO_REVIEW_YET = "There is no review yet. Type 'review' to start one, or 'help'."
VIEW_ONLY = (
    "You can see this review, its summary and its plan, but only the Careers Leader and the "
    "colleagues named at set-up answer it. Ask your Careers Leader to add you."
)
NOT_YOUR_ACTION = (
    "Action #{id} belongs to someone else: its owners, the Careers Leader and the colleagues "
    "who answer the review can update it."
)

# ----- reminders and digests ---------------------------------------------------------------
REMINDER_TITLES = {
    "start": "The half-term your action is due in has started",
    "before": "Your careers action is due in two weeks",
    "due_week": "Your careers action is due this week",
    "overdue": "Your careers action is overdue",
}
REMINDER_BUTTONS = (
    ("Mark done", "done {id}"),
    ("Add an update", "progress {id}"),
    ("Snooze a week", "snooze {id}"),
)
DIGEST_PLAN_HINT = "The full plan: ask the bot for 'plan', or run careers-bot export."
DIGEST_PLAN_LINK = "The full plan (Word, link valid for two weeks): {url}"

# ----- Slack -------------------------------------------------------------------------------
SLACK_HELP = (
    "*/careers review*: start or carry on the self-review, in a direct message with me\n"
    "*/careers review new*: start the next review from the last one's answers "
    "(*/careers review new blank* starts from nothing)\n"
    "*/careers actions*: the open actions (also *actions mine*, *actions due*, "
    "*actions overdue*)\n"
    "*/careers plan*: the summary and action plan, with the Word and Excel files\n"
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
SLACK_ACTION_LINE = (
    "*#{id} {label}*\nLevel {current} → {target} · {owners} · {by_when} · {status}\n{steps}"
)
SLACK_ACTION_OVERDUE = "OVERDUE"
SLACK_ACTION_HISTORY = "History"
SLACK_MARK_DONE = "Mark done"
SLACK_UPDATE_ACTION = "Add an update…"
SLACK_ACTION_CLICKED = "{result} ({name})"

# Forms (modals)
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

# App Home
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

# Set-up
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
SLACK_SETUP_EDITION_LOCKED = (
    "The edition can't change once a review has started: reviews keep the edition they began with."
)
SLACK_SETUP_TWO_ROLES = "Someone is chosen twice: each person either answers or only views."
SLACK_SETUP_SAVED = (
    "Set-up saved for {name} ({edition} edition). Careers Leader: {leader}. Colleagues who "
    "answer: {colleagues}. Senior leaders who view: {slt}. Weekly digest: {digest}."
)
SLACK_SETUP_DIGEST = "{channel} on {day}s at {time}"
SLACK_SETUP_NO_DIGEST = "no SLT channel chosen"
SLACK_SETUP_NOBODY = "none"
SLACK_SETUP_INVITE = "Please invite me to {channel} so that I can post the digest there."

# ----- Microsoft Teams ---------------------------------------------------------------------
TEAMS_WELCOME_PERSONAL = (
    "Hello, I'm the Careers Impact Bot. I take you through the Careers Impact maturity model "
    "one statement at a time, save every answer as you give it, and turn your priorities into "
    "an action plan. Type 'review' (or press the button) to start or carry on, 'actions' to "
    "follow the actions, 'plan' for the action plan and 'help' for everything else."
)
TEAMS_WELCOME_TEAM = (
    "Hello, I'm the Careers Impact Bot. The self-review happens in a personal chat with me. "
    "Here in the team, the Careers Leader can say '@Careers Impact Bot digest here' to have the "
    "weekly SLT digest posted in this channel; where your Microsoft 365 tenant holds several "
    "schools, say '@Careers Impact Bot setup school <name>' to say which school this team is."
)
TEAMS_HELP = (
    "In Teams you can also type:\n"
    "- review: start the self-review or carry on where you left off ('new review' starts the "
    "next one from your last answers)\n"
    "- actions, my actions, due, overdue: follow the actions\n"
    "- plan, summary: the action plan and the summary grid\n"
    "- export docx (or xlsx, csv, md, json, png): the plan as a document\n"
    "- setup school <name> (or setup college <name>): say which school or college you work in\n"
    "In a team channel, the Careers Leader can say '@Careers Impact Bot digest here'."
)
TEAMS_CHANNEL_HELP = (
    "In a team channel I answer 'plan', 'summary', 'help', 'digest here' (the Careers Leader "
    "chooses this channel for the weekly SLT digest) and 'setup school <name>' (which school "
    "this team is). The review itself happens in a personal chat with me."
)
TEAMS_REVIEW_IN_PERSONAL_CHAT = (
    "The review and the actions happen in a personal chat with me: open Careers Impact Bot "
    "under Apps in Teams, or select my name and choose Chat."
)
TEAMS_CHANNEL_NO_REVIEW = "{organisation} has no review yet."
TEAMS_DIGEST_SET = (
    "This channel will receive the weekly SLT digest for {organisation}. Only the Careers "
    "Leader can move it, by saying 'digest here' in another channel."
)
TEAMS_DIGEST_NOT_LEADER = (
    "Only the Careers Leader of {organisation} can choose the channel for the SLT digest. "
    "Nothing was changed."
)
TEAMS_DIGEST_IN_CHANNEL_ONLY = (
    "Say '@Careers Impact Bot digest here' in the team channel that should receive the weekly "
    "SLT digest."
)
TEAMS_SETUP_HOW = (
    "Say which school or college this is, e.g. 'setup school Hill School' or "
    "'setup college Riverside College'."
)
TEAMS_SETUP_DONE = "Set up: {where} now belongs to {organisation} ({edition} edition)."
TEAMS_SETUP_WHERE_TEAM = "this team"
TEAMS_SETUP_WHERE_TENANT = "your Microsoft 365 organisation"
TEAMS_SETUP_EDITION_KEPT = "{organisation} already uses the {edition} edition, so that is kept."
TEAMS_SETUP_NOT_ALLOWED = (
    "Only the Careers Leader of {organisation} can change which school this is. Nothing was "
    "changed."
)
TEAMS_CARD_OUT_OF_DATE = (
    "That card is out of date: the review has moved on since it was sent, so nothing was "
    "changed. Use the latest card, or type 'review' to see where you are."
)
TEAMS_CARD_RETIRED = "No longer current."
TEAMS_ANSWERED = "Your answer: {answer}"
TEAMS_ANSWER_LINKS = "{count} evidence link(s)"
TEAMS_ANSWER_NO_LINKS = "no more evidence links"
TEAMS_ANSWER_PRIORITY = (
    "target level {target}; next steps: {next_steps}; owners: {owners}; by when: {due}"
)
TEAMS_FORM_MISSING = "Please fill in “{field}”; nothing from this card was saved yet."
TEAMS_UNKNOWN_PERSON = (
    "I couldn't find one of the people you picked in your organisation. Type their name or "
    "initials in the box instead; nothing from this card was saved yet."
)
TEAMS_EXPORT_UNKNOWN_FORMAT = "I can export the plan as {formats}, e.g. 'export docx'."
TEAMS_EXPORT_PREPARING = (
    "Preparing the plan as {format}. I'll send it here in a moment for you to save."
)
TEAMS_EXPORT_CONSENT = "{title}: allow me to save it in your OneDrive and share it here."
TEAMS_EXPORT_UPLOADED = "Saved {name} to your OneDrive."
TEAMS_EXPORT_DECLINED = "Not saved: you declined {name}. Type 'export' to try again."
TEAMS_EXPORT_FAILED = (
    "Sorry, I couldn't prepare or upload the plan document ({format}) after two tries. Your "
    "answers are safe; type 'export {format}' to try again, or ask your IT admin to check the "
    "bot's log."
)
TEAMS_EXPORT_IN_PERSONAL_CHAT = (
    "Documents can be sent in a personal chat with me: type 'export docx' there."
)
TEAMS_EXPORT_MISMATCH = "That file request is not for this organisation; nothing was sent."
TEAMS_ERROR = (
    "Sorry, something went wrong on my side. Everything answered before this message is saved; "
    "please try again in a moment."
)
TEAMS_LAST_REVIEW = "Last review: {answer}"
TEAMS_YOUR_ANSWER = "Your answer so far: {answer}"
TEAMS_THEME = "Theme {number}: {title}"
TEAMS_BENCHMARKS = ("Gatsby Benchmark {numbers}", "Gatsby Benchmarks {numbers}")  # one, several
TEAMS_NO_DESCRIPTOR = "(no descriptor at this level in the model)"
TEAMS_PRIORITY_INTRO = (
    "Plan this priority: where you are aiming, the next steps, who owns them and by when."
)
TEAMS_SUMMARY_TITLE = "Summary – {title}"
TEAMS_SUMMARY_CAPTION = (
    "{answered} of {total} answered · {priorities} priority action areas · "
    "{strengths} areas of strength"
)
TEAMS_PLAN_TITLE = "Action plan – {title}"
TEAMS_PLAN_EMPTY = "No priority action areas yet, so the action plan is empty."
TEAMS_OVERDUE = "OVERDUE"
TEAMS_ACTION_TITLE = "Action #{id} – {label}"
TEAMS_LABELS = {
    "back": "Back",
    "skip": "Skip",
    "pause": "Pause",
    "save": "Save",
    "save_links": "Save links and continue",
    "start": "Start or carry on the review",
    "statement": "Maturity model statement",
    "priority": "PRIORITY",
    "strength": "STRENGTH",
    "participants": "Names, separated by commas",
    "link": "Evidence link {n}",
    "link_label": "Label (optional)",
    "link_placeholder": "https://",
    "note": "Note",
    "target": "Target level",
    "next_steps": "Next steps (one per line)",
    "owners_pick": "Owners: pick people",
    "owners_typed": "Owners: or type names or initials",
    "owners_placeholder": "e.g. SR, HOFS / ALL STAFF",
    "due": "By when",
    "current_position": "Current position",
    "actions_to_improve": "Actions to improve",
    "by_when_who": "By when / who",
    "status": "Status",
    "who": "Who",
    "history": "History",
    "download_docx": "Download as Word",
    "download_xlsx": "Download as Excel",
}
# The Teams app as the Teams store and the app's "About" page show it (manifest.json).
TEAMS_APP_NAME_SHORT = "Careers Impact Bot"
TEAMS_APP_NAME_FULL = "Careers Impact Bot: Careers Impact System self-review and action plan"
TEAMS_APP_DESCRIPTION_SHORT = "Careers Impact self-review, action plan and reminders for schools."
TEAMS_APP_DESCRIPTION_FULL = (
    "A guided self-review of the Careers & Enterprise Company's Careers Impact System for "
    "English schools and colleges. The Careers Leader answers the maturity model one statement "
    "at a time in a personal chat (level, evidence links, a note, strength or priority); every "
    "answer is saved as it is given. Priorities become an action plan with owners and half-term "
    "deadlines; owners get reminders, and senior leaders a weekly digest in a team channel."
)
TEAMS_APP_COMMANDS = {
    "personal": [
        ("review", "Start the self-review or carry on where you left off"),
        ("actions", "The organisation's open actions"),
        ("my actions", "The actions you own"),
        ("plan", "The action plan so far"),
        ("summary", "The summary grid so far"),
        ("export docx", "The plan as a Word document (also xlsx, csv, md, json, png)"),
        ("help", "Everything you can type"),
    ],
    "team": [
        ("digest here", "Post the weekly SLT digest in this channel (Careers Leader)"),
        ("setup school", "Say which school this team is: setup school <name>"),
        ("plan", "The action plan so far"),
        ("summary", "The summary grid so far"),
        ("help", "What I do in a team"),
    ],
}

# ----- public pages (the Teams manifest links to these) --------------------------------------
PRIVACY_PAGE = (
    "Careers Impact Bot – privacy\n\n"
    "This bot is run by your school, college, trust or Careers Hub, which is the data controller.\n"
    "It keeps staff names, initials, roles and chat ids; the answers to the Careers Impact\n"
    "self-review (levels, evidence links, notes) with who gave them and when; the action plan\n"
    "(next steps, owners, deadlines, updates); and the reminders and digests it sent.\n"
    "It asks for no pupil data. Ask your Careers Leader or IT team to see or delete your data;\n"
    "an administrator can delete an organisation and everything it owns.\n"
)
TERMS_PAGE = (
    "Careers Impact Bot – terms of use\n\n"
    "The bot helps staff carry out the Careers Impact System self-review of The Careers &\n"
    "Enterprise Company and follow the resulting action plan. The maturity model text is The\n"
    "Careers & Enterprise Company's. Use it for your organisation's careers provision only, and\n"
    "do not enter pupils' personal data in notes or next steps.\n"
)

# ----- the turn pipeline ---------------------------------------------------------------
NOTHING_TO_SKIP = "There is no question to skip here."
NOTHING_TO_KEEP_TEXT = "There is no earlier {what} to keep: please type it."
OWNER_AMBIGUOUS = "“{name}” could be {people}: please type the full name."
STALE_QUESTION = (
    "That question has already been answered or the review has moved on, so nothing was "
    "changed. Answer the latest question instead."
)
FORM_OUT_OF_STEP = (
    "This form no longer matches where the review is, so nothing from it was saved. "
    "Open it again from the latest question."
)
GLOSSARY_SUGGEST = "“{term}” is not in the glossary. Did you mean: {terms}?"
NOT_JOINED = (
    "Colleagues are working on this review. Type 'resume' to join it at the first statement "
    "still to answer (your answers are saved for the whole school), or 'help'."
)
SLACK_NOT_SAVED = (
    "Sorry, that answer was not saved: the service is busy. Please try again "
    "(send it or press the button again)."
)
