//go:build forgeauthz_release && !forgeauthz_external

package forgeauthz

// `-tags forgeauthz_release`: the static library of `cargo build -p forge-authz-ffi
// --release` (what a forge ships, and what the benchmark figures are measured on).

// #cgo LDFLAGS: ${SRCDIR}/../../target/release/libforge_authz.a -lpthread -ldl -lm -lrt -lutil
import "C"
