"""The contract as data: the eleven calls and the report's parameters, in one table.

Everything that names a call of the contract reads it from here: the web layer's
routes (``web/api.py``), the OpenAPI document (``openapi.py``), the contract
report's coverage (``report.py``), the service's reading of the report's query
string (``service.py``) and the tests' choice of a response schema. Adding a call
means a row here, a rule in ``service.py`` (with its view in ``web/api.py``) and
a schema in ``schemas/``.

Plain data: this module imports nothing of the package.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_SUFFIX = ".schema.json"
ERROR_SCHEMA = "error.schema.json"  # the answer of every error, whatever the call

# --- the report's parameters -------------------------------------------------

# The words a boolean parameter takes, case-insensitive (PHP's filter_var reads them so).
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")  # an empty value is false too
TRUE = frozenset(TRUE_WORDS)
FALSE = frozenset(FALSE_WORDS)


@dataclass(frozen=True)
class Parameter:
    """One query parameter of the report, as the vendor's table lists it."""

    name: str
    kind: str  # "flag" (a boolean), "date" or "id"
    description: str  # the vendor's words
    default: bool | None = None  # a flag's default


# In the vendor's table order.
REPORT_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("include_personal", "flag", "Include personal user time entries.", False),
    Parameter("include_projects", "flag", "Include time entries related to projects.", True),
    Parameter("include_contacts", "flag", "Include time entries related to contacts.", False),
    Parameter("include_cases", "flag", "Include time entries related to cases.", False),
    Parameter("include_deals", "flag", "Include time entries related to deals.", False),
    Parameter(
        "from", "date", "Start date (default: the same day six calendar months before to)."
    ),
    Parameter("to", "date", "End date (default: today on the fake clock)."),
    Parameter("user_id", "id", "Restrict to a single person's time entries."),
    Parameter(
        "company_id",
        "id",
        "Restrict to time entries of the given company (of its projects or contacts).",
    ),
    Parameter("task_id", "id", "Restrict to time entries related to the given task."),
    Parameter("project_id", "id", "Restrict to time entries of the given project."),
    Parameter(
        "with_totals",
        "flag",
        'Add an object containing the totals to the response data ("totals").',
        False,
    ),
)

# --- the calls -----------------------------------------------------------------

# The optional fields of a write's "time-entry" (seconds is required on create).
FIELDS = ("category-id", "user-id", "notes", "date", "billable", "seconds")

# The error statuses every Apollo call may answer besides its own: a bad query
# string (400), a missing token (401) and the rate limit (429).
ANY = (400, 401, 429)
READ = (400, 401, 404, 429)
WRITE = (400, 401, 404, 413, 422, 429)


@dataclass(frozen=True)
class Route:
    """One URL of a call: its rule in the URL map, and its template as the report shows it.

    ``rule`` is a Werkzeug rule whose ``<id:...>`` arguments are digits; ``query``
    names the query parameters it takes (``page``, ``page-ignored``, ``report`` or
    none); ``defaults`` are extra arguments its view gets.
    """

    endpoint: str  # unique among the routes of the calls
    call: str  # the name of its call
    kind: str  # its call's kind (see Call)
    method: str
    rule: str
    template: str
    query: str = ""
    defaults: tuple[tuple[str, str], ...] = ()
    summary: str | None = None  # for the OpenAPI document, when the view's docstring won't do

    @property
    def paged(self) -> bool:
        """Tell whether the page is in the path."""
        return "{page}" in self.template


@dataclass(frozen=True)
class Call:
    """One call of the contract: the seed's title, its method, its URLs and what it answers.

    ``kind`` is ``plain``, ``listing`` (paged), ``report`` or ``write``; ``outcomes``
    are the documented statuses a client must handle; ``errors`` every error status
    it may answer; ``answer`` the schema of its ``status`` answer (any other status
    answers :data:`ERROR_SCHEMA`); ``view`` names the web layer's handler.
    """

    name: str
    title: str
    method: str
    path: str
    view: str
    routes: tuple[Route, ...]
    outcomes: tuple[int, ...]
    errors: tuple[int, ...]
    answer: str
    status: int = 200
    request: str | None = None
    kind: str = "plain"
    fields: tuple[str, ...] = ()


def _call(
    name: str,
    title: str,
    method: str,
    path: str,
    view: str,
    routes: tuple[tuple[str, str, str, str, str | None], ...],
    outcomes: tuple[int, ...],
    errors: tuple[int, ...],
    answer: str,
    *,
    status: int = 200,
    request: str | None = None,
    kind: str = "plain",
    fields: tuple[str, ...] = (),
    defaults: tuple[tuple[str, str], ...] = (),
) -> Call:
    """Build a call and its routes: (endpoint, rule, template, query, summary) each."""
    built = tuple(
        Route(endpoint, name, kind, method, rule, template, query, defaults, summary)
        for endpoint, rule, template, query, summary in routes
    )
    return Call(
        name, title, method, path, view, built, outcomes, errors, answer,
        status, request, kind, fields,
    )  # fmt: skip


def _listing(collection: str, noun: str, about: str) -> Call:
    path = f"/{collection}/{{{collection[:-1]}_id}}/timeEntries"
    rule = f"/{collection}/<id:parent_id>/timeEntries"
    return _call(
        f"{collection}_listing",
        f"Get all entries (for a {noun})",
        "GET",
        path,
        "listing",
        (
            (
                f"{collection}_listing",
                rule,
                path,
                "page",
                f"List {about} entries, 50 a page (the page from the page parameter)."
                if collection == "projects"
                else f"List {about} entries, 50 a page.",
            ),
            (
                f"{collection}_page",
                rule + "/<id:path_page>",
                path + "/{page}",
                "page-ignored",
                f"List a page of {about} entries, 50 a page.",
            ),
        ),
        (200, 404),
        READ,
        f"{collection[:-1]}-page-response.schema.json",  # continued-at names its own kind
        kind="listing",
        defaults=(("collection", collection),),
    )


def _create(collection: str, noun: str, summary: str) -> Call:
    path = f"/{collection}/{{{collection[:-1]}_id}}/timeEntries"
    return _call(
        f"{collection}_create",
        f"Create entry (for a {noun})",
        "POST",
        path,
        "create",
        ((f"{collection}_create", f"/{collection}/<id:parent_id>/timeEntries", path, "", summary),),
        (201, 404, 422),
        WRITE,
        "create-response.schema.json",
        status=201,
        request="create-request.schema.json",
        kind="write",
        fields=FIELDS[:5],
        defaults=(("collection", collection),),
    )


# The calls of the seed, in its order, and GET /account (from the contract).
CALLS: tuple[Call, ...] = (
    _listing("projects", "project", "a project's"),
    _call(
        "tasks_listing",
        "Get all entries (for a task)",
        "GET",
        "/tasks/{task_id}/timeEntries",
        "task_listing",
        (
            (
                "task_listing",
                "/tasks/<id:parent_id>/timeEntries",
                "/tasks/{task_id}/timeEntries",
                "page-ignored",
                None,
            ),
        ),
        (200, 404),  # no pages: a plain call
        READ,
        "task-listing-response.schema.json",
    ),
    _listing("contacts", "contact", "a contact's (case's, deal's)"),
    _call(
        "get_entry",
        "Get time entry",
        "GET",
        "/timeEntries/{id}",
        "get_entry",
        (("get_entry", "/timeEntries/<id:entry_id>", "/timeEntries/{id}", "", None),),
        (200, 404),
        READ,
        "entry-response.schema.json",
    ),
    _create("projects", "project", "Create an entry on a project."),
    _create(
        "tasks",
        "task item",
        "Create an entry on a task (it also carries the task's project or contact).",
    ),
    _create("contacts", "contact", "Create an entry on a contact, case or deal."),
    _call(
        "update_entry",
        "Update time entry",
        "PUT",
        "/timeEntries/{id}",
        "update_entry",
        (("update_entry", "/timeEntries/<id:entry_id>", "/timeEntries/{id}", "", None),),
        (200, 404, 422),
        WRITE,
        "empty-response.schema.json",
        request="update-request.schema.json",
        kind="write",
        fields=FIELDS,
    ),
    _call(
        "delete_entry",
        "Destroy time entry",
        "DELETE",
        "/timeEntries/{id}",
        "delete_entry",
        (("delete_entry", "/timeEntries/<id:entry_id>", "/timeEntries/{id}", "", None),),
        (200, 404),
        READ,
        "empty-response.schema.json",
    ),
    _call(
        "report",
        "Report",
        "GET",
        "/report/timeEntries",
        "report",
        (("report", "/report/timeEntries", "/report/timeEntries", "report", None),),
        (200,),
        ANY,
        "report-response.schema.json",
        kind="report",
    ),
    _call(
        "account",
        "Account (time categories)",
        "GET",
        "/account",
        "account",
        (("account", "/account", "/account", "", None),),
        (200,),
        ANY,
        "account-response.schema.json",
    ),
)

# Every route of every call, by endpoint.
ROUTES: dict[str, Route] = {route.endpoint: route for call in CALLS for route in call.routes}
CALLS_BY_NAME: dict[str, Call] = {call.name: call for call in CALLS}


def response_schema(call: Call, status: int) -> str:
    """Name the schema file of a call's answer with this status."""
    return call.answer if status == call.status else ERROR_SCHEMA
