package forgeauthz

/*
#include "forge_authz.h"
*/
import "C"

import (
	"errors"
	"strings"
)

// ErrClosed: the policy or world was closed.
var ErrClosed = errors.New("handle closed")

// ErrRefused: a minting rule refused the token (Issue).
var ErrRefused = errors.New("refused")

// Error is every failure of this package: nothing was decided or done. An error is never
// an allow; a forge refuses the request (with a 503: the policy could not answer).
type Error struct {
	// Op is what failed: "load", "swap", "world", "put-token", "decide", "verify", "issue".
	Op string
	// Code is the library's return code (FA_ERROR = 2; FA_DENY = 1 for a refused mint),
	// 0 when the call never reached the library.
	Code int
	// Message says why (the library's error text, or this package's).
	Message string
	// Err is the cause, if any: a context error, ErrClosed, ErrRefused, a JSON error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("forgeauthz: ")
	b.WriteString(e.Op)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives the cause (errors.Is(err, context.Canceled), errors.Is(err, ErrClosed)).
func (e *Error) Unwrap() error { return e.Err }

// libError is the error the library reported (its string freed), or a generic one.
func libError(op string, code int, msg *C.char) error {
	text := "the library reported an error"
	if msg != nil {
		text = string(takeBytes(msg))
	}
	if code == codeOK {
		// FA_OK without the handle it promised: never treated as a success.
		text = "no handle returned"
	}
	return &Error{Op: op, Code: code, Message: text}
}

func closedError(op string) error { return &Error{Op: op, Err: ErrClosed} }
