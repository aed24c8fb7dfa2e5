"""Everything the bot says in Microsoft Teams only (cards, set-up, app package): the
channel's own wording lives with its channel; neutral sentences stay in workflows/messages.py."""

from __future__ import annotations

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
    "- evidence pack, governors report, policy draft: those documents, as Word files\n"
    "- set link governor <name>, set careers hub <name>, governors report with digest on "
    "(or off): what the documents name, and whether the first digest of each half-term "
    "carries the governors' report (Careers Leader)\n"
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
TEAMS_DOCUMENT_PREPARING = "Preparing the {document}: I'll ask where to save it in a moment."
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
TEAMS_NOTE_SHOWN = "Note: {note}"
TEAMS_LEVEL_FOLDED = "▸ {level}"  # a folded descriptor's heading: select it to read it
TEAMS_LEVEL_CHOSEN = "▸ {level} ✓ (your level)"
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
    "group_schools": "Schools",
    "group_caption": "Figures from fewer than 5 schools are suppressed.",
    "group_xlsx": "Download as Excel",
    "group_invitation": (
        "**{group}** ({kind}) invites **{school}** to join. Its leads would see your review's "
        "progress and levels; other schools see only group figures. Only the Careers Leader "
        "can answer."
    ),
    "group_join": "Join the group",
    "group_decline": "Decline",
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
    "evidence": "Evidence",
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
    "evidence_pack": "Evidence pack",
    "governors_report": "Governors' report",
    "policy_draft": "Policy draft",
    "open_governors_report": "Open the governors' report (Word)",
}
# A digest that carries the governors' report where no link could be issued (no
# PLAN_LINK_SECRET): a Teams channel message cannot carry a file.
TEAMS_GOVERNORS_REPORT_ASK = (
    "Ask me for 'governors report' in our personal chat, and I'll send it to save in OneDrive."
)
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
        ("export docx", "The plan as a Word document (also xlsx, csv, md, json, png)"),
        ("dashboard", "A link to your school's dashboard page, for you alone"),
        ("compare", "Your levels beside your Careers Hub or trust's median"),
        ("peer review", "Invite a peer reviewer: peer review all, or themes 1,3"),
        ("group", "For a Hub or trust lead: the group view"),
        ("help", "Everything you can type"),
    ],  # Teams shows at most 10 commands a scope
    "team": [
        ("digest here", "Post the weekly SLT digest in this channel (Careers Leader)"),
        ("setup school", "Say which school this team is: setup school <name>"),
        ("plan", "The action plan so far"),
        ("summary", "The summary grid so far"),
        ("help", "What I do in a team"),
    ],
}
# The personal "Dashboard" tab (docs/teams.md): its page says how to get your own link.
TEAMS_TAB_NAME = "Dashboard"

TEAMS_GROUP_WORKBOOK_PREPARING = "Preparing the group view as an Excel workbook…"
