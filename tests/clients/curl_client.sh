#!/bin/sh
# A client of the Apollo time-tracking calls written as a shell script with curl: the
# way a team whose client is in Go, TypeScript, PHP or Java checks it in CI, with
#
#   apollo-fake run --fail-under 100 --fixtures fixtures/small.json --today 2012-07-31 \
#       -- sh tests/clients/curl_client.sh
#
# It exercises every call of the contract, every documented parameter and field,
# follows continued-at, handles 404s, and tests its handling of 422s with fault rules
# (an injected answer is an outcome seen, never a contract violation). The ids are
# those of fixtures/small.json. tests/test_run.py runs it.
set -eu
: "${APOLLO_BASE_URL:?run this under apollo-fake run}"
api=$APOLLO_BASE_URL
json='Content-Type: application/json'

call() {  # METHOD PATH [BODY]: print the answer's body; fail unless 2xx
    if [ $# -ge 3 ]; then
        curl -sS -f -X "$1" -H "$json" -d "$3" "$api$2"
    else
        curl -sS -f -X "$1" "$api$2"
    fi
}

expect() {  # STATUS METHOD PATH [BODY]: fail unless the answer has this status
    want=$1
    shift
    if [ $# -ge 3 ]; then
        got=$(curl -sS -o /dev/null -w '%{http_code}' -X "$1" -H "$json" -d "$3" "$api$2")
    else
        got=$(curl -sS -o /dev/null -w '%{http_code}' -X "$1" "$api$2")
    fi
    if [ "$got" != "$want" ]; then
        echo "curl_client: $1 $2 answered $got, not $want" >&2
        exit 1
    fi
}

field() {  # NAME: read one string field of the JSON on standard input
    sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

# The account lists the time categories.
call GET /account | grep -q '"time-categories"'

# The ids below are those of fixtures/small.json: on other data, say so, not a curl error.
got=$(curl -sS -o /dev/null -w '%{http_code}' "$api/projects/51/timeEntries")
if [ "$got" != 200 ]; then
    echo "curl_client: no project 51 here: run it on fixtures/small.json with --today 2012-07-31 (the README's command)" >&2
    exit 3  # not 2: under apollo-fake run, 2 means a usage error of run itself
fi

# Creates with every field, on a project, a task and a contact.
entry='{"time-entry":{"category-id":"21","user-id":"11","notes":"Working hard","date":"2012-07-05","billable":"billable","seconds":"3600"}}'
id=$(call POST /projects/51/timeEntries "$entry" | field time-entry-id)
call POST /tasks/61/timeEntries "$entry" >/dev/null
call POST /contacts/41/timeEntries "$entry" >/dev/null

# More than a page (50 entries) on the project and on the contact, then every page.
i=0
while [ $i -lt 50 ]; do
    call POST /projects/51/timeEntries '{"time-entry":{"seconds":"60"}}' >/dev/null
    call POST /contacts/41/timeEntries '{"time-entry":{"seconds":60}}' >/dev/null
    i=$((i + 1))
done
for parent in /projects/51 /contacts/41; do
    next="$parent/timeEntries"
    pages=0
    while [ -n "$next" ]; do
        # continued-at is relative to the API root: the same for both base URLs.
        next=$(call GET "$next" | field continued-at)
        pages=$((pages + 1))
    done
    [ "$pages" -ge 2 ] || { echo "curl_client: $parent has one page" >&2; exit 1; }
done
curl -sS -f "$APOLLO_BASE_URL_V1/tasks/61/timeEntries" | grep -q '"time-entries"'

# One entry: read, change every field, delete.
call GET "/timeEntries/$id" | grep -q "\"id\":\"$id\""
call PUT "/timeEntries/$id" '{"time-entry":{"category-id":"22","user-id":"12","notes":"Less hard","date":"2012-07-06","billable":"billed","seconds":"1800"}}' >/dev/null
call DELETE "/timeEntries/$id" >/dev/null

# The report, with every parameter of the vendor's table.
call GET '/report/timeEntries?from=20120201&to=20120731&with_totals=1' | grep -q '"totals"'
call GET '/report/timeEntries?include_personal=1&include_projects=0&include_contacts=1&include_cases=yes&include_deals=true' >/dev/null
call GET '/report/timeEntries?user_id=11&company_id=31' >/dev/null
call GET '/report/timeEntries?task_id=61&project_id=51' >/dev/null

# What is not there: a 404 from every call that names something.
expect 404 GET /projects/999/timeEntries
expect 404 GET /tasks/999/timeEntries
expect 404 GET /contacts/999/timeEntries
expect 404 GET "/timeEntries/$id"
expect 404 POST /projects/999/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 404 POST /tasks/999/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 404 POST /contacts/999/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 404 PUT "/timeEntries/$id" '{"time-entry":{"notes":"gone"}}'
expect 404 DELETE "/timeEntries/$id"

# Rejected writes, injected: the client's 422 handling, without breaking the contract.
curl -sS -f -X POST "$api/_fake/faults" -d '{"method": "POST", "path": "/*/timeEntries", "times": 3, "status": 422}' >/dev/null
curl -sS -f -X POST "$api/_fake/faults" -d '{"method": "PUT", "path": "/timeEntries/*", "status": 422}' >/dev/null
expect 422 POST /projects/51/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 422 POST /tasks/61/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 422 POST /contacts/41/timeEntries '{"time-entry":{"seconds":"60"}}'
expect 422 PUT /timeEntries/71 '{"time-entry":{"notes":"rejected"}}'

echo "curl_client: ok"
