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
    "- my actions, due, overdue, done 12, progress 12 <note>, move 12 to HT5: follow the actions\n"
    "- evidence pack, governors report, policy draft: the documents (the Careers Leader sets "
    "'set link governor <name>', 'set careers hub <name>', 'governors report with digest on')"
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
    "(e.g. 'SR, NR' or 'HOFS / ALL STAFF'), or 'not decided yet'."
)
ASK_DUE = f"By when? Give {DEADLINES_ACCEPTED}, or 'not decided yet'."
# How the plan writes an owner or deadline decided later, as schools' own plans do.
TBC = "TBC"
NOT_DECIDED = "Not decided yet"
OWNERS_TBC = "Owners not decided yet: shown as TBC in the plan."
DEADLINE_TBC = "Deadline not decided yet: shown as TBC in the plan."
ASK_ANOTHER = "Add another action for this statement?"
NOT_YES_NO = "Please reply 'yes' to add another action for this statement, or 'no' to move on."
ANOTHER_ACTION = "Action {number} for {label}: its own next steps, owners and deadline."
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
    "done": "No action is done yet.",
    "dropped": "No action has been dropped.",
}
ACTION_LISTS = {
    "mine": "Your open actions",
    "all": "Open actions",
    "due": "Actions due by the end of this half-term",
    "overdue": "Overdue actions",
    "done": "Completed actions",
    "dropped": "Dropped actions",
}
ACTION_COMMANDS_HELP = (
    "Actions: 'my actions', 'actions', 'due', 'overdue', 'action 12' (with its history), "
    "'progress 12 <note> [link]', 'done 12 [note] [link]', 'reassign 12 to NR', "
    "'move 12 to HT5', 'drop 12 [reason]', 'actions done', 'actions dropped', "
    "'add action 2.3 <next steps>'. Also 'reviews', 'history 2.3' and 'dashboard'."
)
NO_REVIEWS = "There is no review yet. Type 'review' to start one."
REVIEWS_TITLE = "Reviews"
REVIEW_LINE = (
    "#{number} {title}: started {started}, {status}; {answered} of {total} answered, "
    "{priorities} priorities, {actions} actions"
)
REVIEW_COMPLETED = "completed {date}"
REVIEW_IN_PROGRESS = "in progress"
ACTION_ADDED = (
    "Added action #{id} ({label}): {next_steps} Owner {owners}, due {by_when}. "
    "Change it with 'move {id} to HT5' or 'reassign {id} to NR'."
)
ADD_ACTION_HOW = "Say what will be done, e.g. 'add action {statement} Invite two employers'."
NO_STATEMENT_HERE = "There is no statement {statement} in this edition."
NO_HISTORY = "Statement {statement} has not been changed since it was first answered in {title}."
HISTORY_TITLE = "Changes to {statement} in {title}"
HISTORY_LINE = "{at} {by}: {what}"
NO_REVIEW_YET = "There is no review yet. Type 'review' to start one, or 'help'."
VIEW_ONLY = (
    "You can see this review, its summary and its plan, but only the Careers Leader and the "
    "colleagues named at set-up answer it. Ask your Careers Leader to add you."
)
# ----- the documents' settings (the Careers Leader's, in chat; `careers-bot org set`) ----------
DOCUMENT_SETTINGS_LEADER_ONLY = (
    "Only the Careers Leader can change who the documents name or where the governors' report goes."
)
DOCUMENT_PEOPLE_HOW = (
    "Say 'set link governor <name>' or 'set careers hub <name>' ('... none' clears it): the "
    "governors' report and the policy draft name them."
)
LINK_GOVERNOR_SET = (
    "Link governor for careers: {name}. The governors' report and policy draft name them."
)
LINK_GOVERNOR_CLEARED = "No link governor is named now: the documents leave a space for one."
CAREERS_HUB_SET = "Careers Hub: {name}. The policy draft names it."
CAREERS_HUB_CLEARED = "No Careers Hub is named now: the policy draft leaves a space for one."
GOVERNORS_REPORT_ON = (
    "The governors' report will go with the weekly digest in the first week of each "
    "half-term, to the senior leaders' channel. Turn it off with 'governors report with "
    "digest off'."
)
GOVERNORS_REPORT_OFF = (
    "The digest will no longer carry the governors' report; ask for it any time with "
    "'governors report'."
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
DIGEST_GOVERNORS_REPORT = (
    "With this first digest of the half-term: the governors' report for the link governor (Word)."
)
DIGEST_DASHBOARD_LINK = "The dashboard page (link valid for two weeks): {url}"
DASHBOARD_LINK = (
    "Your dashboard: {url}\nThis link is for you alone and works until {until}. "
    "Type dashboard again at any time for a new one."
)
GROUP_DASHBOARD_LINK = "{group}'s dashboard, for you as its lead: {url} (until {until})."
DASHBOARD_OFF = (
    "The dashboard is not switched on here: the bot's administrator sets PLAN_LINK_SECRET "
    "and PUBLIC_URL to turn it on."
)

# ----- set-up, roles and the digest channel (every channel) -------------------------------
SETUP_EDITION_LOCKED = (
    "The edition can't change once a review has started: reviews keep the edition they began with."
)
SETUP_TWO_ROLES = "Someone is chosen twice: each person either answers or only views."
SETUP_NOT_ALLOWED = "Only the Careers Leader of {organisation} can change its set-up."

# Slack's and Teams' own wording is with each channel: bot/slack/wording.py, bot/teams/wording.py.

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

# ----- action commands typed without their details ---------------------------------------
MOVE_HOW = (
    "Say when it is due now, e.g. 'move {id} to HT5', 'move {id} to HT3/4' or "
    "'move {id} to ongoing'."
)
INPUT_TOO_LONG = (
    "That is too long for me to read (more than {limit} characters): nothing was saved."
)
NEXT_STEPS_TOO_LONG = "Those next steps are over {limit} characters; please shorten them."
LINK_TOO_LONG = "That link is over {limit} characters: nothing from that message was saved."
LABEL_TOO_LONG = (
    "That label is {length} characters; please keep a link's label under {limit}. "
    "Nothing from that message was saved."
)

# ----- groups (Careers Hubs and trusts) ---------------------------------------------------
NOT_A_GROUP_LEAD = (
    "Only a group's leads see its group view, and you are not a lead of any group. "
    "Your school's own figures against its group: type 'compare'."
)
NOT_IN_A_GROUP = (
    "Your school is not in a Careers Hub or trust group yet. Type 'invitations' to see any "
    "that are waiting for your answer."
)
NO_INVITATIONS = "No group is waiting for your school's answer."
ONLY_CAREERS_LEADER_JOINS = (
    "Only your school's Careers Leader can answer an invitation to join a group."
)
NO_SUCH_INVITATION = (
    "There is no invitation from group {id} waiting for your school. Type 'invitations' to "
    "see the ones that are."
)
JOINED_GROUP = (
    "Your school has joined {group}. Its leads will see your review's progress and levels; "
    "other schools see only group figures, never your school's name. Type 'compare' to see "
    "your levels against the group's median."
)
DECLINED_GROUP = "You declined the invitation to join {group}."
INVITATION_TITLE = "{group} invites {school} to join"
INVITATION_TEXT = (
    "{group} is a {kind}. If your school joins, the group's leads will see your review's "
    "progress, levels and actions; other schools see only group figures, never your "
    "school's name. Only the Careers Leader can answer: press a button, or type "
    "'join group {id}' or 'decline group {id}'."
)
INVITED_SCHOOL = (
    "{school} is invited to join {group}. Its Careers Leader gets the invitation in their "
    "chat and answers it there; type 'group' to see who has joined."
)
ALREADY_INVITED = "{school} is a member of {group} or invited already."
INVITE_WHICH_GROUP = (
    "You lead more than one group ({groups}). Say which: 'invite school {school} to {first}'."
)
NO_SUCH_LED_GROUP = "You do not lead a group called “{group}”. Yours: {groups}."
NO_SCHOOL_NAMED = (
    "No school called “{school}” uses the bot here. Check the name as the school set it up, "
    "or ask your administrator to invite it (careers-bot group invite)."
)
SEVERAL_SCHOOLS_NAMED = (
    "More than one school is called “{school}”. Ask your administrator to invite the right "
    "one by its id (careers-bot group invite GROUP --org id:N)."
)
INVITATION_JOIN = "Join the group"
INVITATION_DECLINE = "Decline"
