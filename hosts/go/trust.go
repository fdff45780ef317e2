package forgeauthz

/*
#include <stdlib.h>
#include "forge_authz.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// Trust says which policy modules a Policy makes live (issue 23; ffi/README.md, "Signed
// modules"). Module bytes serve only with a minisign detached signature (the .minisig
// text) by one of PublicKeys whose trusted comment is the statement
// `forge-authz-module contract=<ContractVersion()> version=<u64> sha256=<hex of the bytes>`,
// at a version not below the highest this Policy made live, by a key not in RetiredKeys.
// The module built into the library (nil module) is trusted as built. AllowUnsigned
// (development) lets unsigned bytes serve too; Policy.Trust shows it.
type Trust struct {
	// PublicKeys are minisign public keys: each a .pub file's text (or its base64 line).
	PublicKeys []string `json:"public_keys,omitempty"`
	// RetiredKeys are key ids (hex, as minisign prints them) never trusted.
	RetiredKeys []string `json:"retired_keys,omitempty"`
	// AllowUnsigned accepts modules without a signature (development only).
	AllowUnsigned bool `json:"allow_unsigned,omitempty"`
}

// ModuleTrust is how the serving module was trusted (fa_policy_trust).
type ModuleTrust struct {
	// Module is "built-in", "signed" or "unsigned" (only with AllowUnsigned).
	Module string `json:"module"`
	// Version is the signed statement's version ("signed" only).
	Version *uint64 `json:"version"`
	// Signer is the id of the key that signed it ("signed" only).
	Signer string `json:"signer"`
	// AllowUnsigned: unsigned modules are accepted.
	AllowUnsigned bool `json:"allow_unsigned"`
	// Floor is the highest signed version made live: a lower one is refused
	// ("replayed-older").
	Floor uint64 `json:"floor"`
	// TrustedKeys and RetiredKeys are the key ids trusted (not retired) and retired.
	TrustedKeys []string `json:"trusted_keys"`
	RetiredKeys []string `json:"retired_keys"`
}

// LoadPolicySigned is LoadPolicy for signed module bytes: signature is the module's
// minisign signature (the .minisig file's contents), verified with config.Trust before the
// module is compiled. A refusal is an *Error whose Message starts "policy module refused:
// untrusted module: <reason>:" (unsigned, bad-signature, untrusted-key, retired-key,
// wrong-contract, statement-mismatch).
func LoadPolicySigned(module, signature []byte, config Config) (*Policy, error) {
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, &Error{Op: "load", Message: "encoding the configuration", Err: err}
	}
	return LoadPolicySignedJSON(module, signature, cfg)
}

// LoadPolicySignedJSON is LoadPolicySigned with the configuration as JSON (its "trust":
// {"public_keys": [...], "retired_keys": [...], "allow_unsigned": false}).
func LoadPolicySignedJSON(module, signature, config []byte) (*Policy, error) {
	cfg, err := cString("load", config)
	if err != nil {
		return nil, err
	}
	if module != nil && len(module) == 0 {
		return nil, &Error{Op: "load", Message: "empty module (nil loads the embedded one)"}
	}
	p, err := open("load", func(out **C.struct_fa_policy, cerr **C.char) C.int32_t {
		return C.fa_policy_new_signed(modulePtr(module), C.size_t(len(module)),
			signaturePtr(signature), C.size_t(len(signature)), cfg.ptr(), out, cerr)
	}, func(h *C.struct_fa_policy) *Policy { return &Policy{p: h} }, (*Policy).Close)
	runtime.KeepAlive(module)
	runtime.KeepAlive(signature)
	runtime.KeepAlive(cfg)
	return p, err
}

// SwapSigned is Swap for signed module bytes (the signature as for LoadPolicySigned). Also
// refused: "replayed-older", a signed version below the highest this policy made live.
// Any refusal leaves the current module serving.
func (p *Policy) SwapSigned(module, signature []byte) error {
	if module != nil && len(module) == 0 {
		return &Error{Op: "swap", Message: "empty module (nil swaps to the embedded one)"}
	}
	_, err := lockedOK("swap", p, nil, false, func(pp *C.struct_fa_policy, _ *C.struct_fa_world, cerr **C.char) C.int32_t {
		return C.fa_policy_swap_signed(pp, modulePtr(module), C.size_t(len(module)),
			signaturePtr(signature), C.size_t(len(signature)), cerr)
	})
	runtime.KeepAlive(module)
	runtime.KeepAlive(signature)
	return err
}

// Trust reports how the serving module was trusted: built in, signed (its version and
// signer) or unsigned (AllowUnsigned, development), and the policy's trust.
func (p *Policy) Trust() (ModuleTrust, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.p == nil {
		return ModuleTrust{}, closedError("trust")
	}
	var t ModuleTrust
	if err := json.Unmarshal(takeBytes(C.fa_policy_trust(p.p)), &t); err != nil {
		return ModuleTrust{}, &Error{Op: "trust", Message: "reading the library's answer", Err: err}
	}
	return t, nil
}

// signaturePtr is the C pointer to a signature's bytes; NULL for none (unsigned).
func signaturePtr(signature []byte) *C.uint8_t {
	if len(signature) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&signature[0]))
}
