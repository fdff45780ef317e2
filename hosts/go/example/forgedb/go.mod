module forgeauthz/example/forgedb

go 1.19

require (
	forgeauthz v0.0.0
	github.com/lib/pq v1.10.7
	github.com/mattn/go-sqlite3 v1.14.16
)

// No Go proxy is reachable (ci.sh sets GOPROXY=off): the core is this repository's
// hosts/go, the drivers are Debian's golang-github-mattn-go-sqlite3-dev and
// golang-github-lib-pq-dev (apt), whose directories ship their go.mod.
replace (
	forgeauthz => ../..
	github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
	github.com/mattn/go-sqlite3 => /usr/share/gocode/src/github.com/mattn/go-sqlite3
)
