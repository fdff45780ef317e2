//go:build !forgeauthz_release && !forgeauthz_external

package forgeauthz

// The default link: the static library of a debug build in the workspace's target
// directory (`cargo build -p forge-authz-ffi` at the repository root). Build with
// `-tags forgeauthz_release` for target/release, or `-tags forgeauthz_external` and
// CGO_LDFLAGS to link a library installed elsewhere (README.md, "Building and linking").

// #cgo LDFLAGS: ${SRCDIR}/../../target/debug/libforge_authz.a -lpthread -ldl -lm -lrt -lutil
import "C"
