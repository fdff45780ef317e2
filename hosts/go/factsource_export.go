package forgeauthz

// The trampolines the library calls back during fa_decide_with (factsource_cgo.go fills
// the struct with them). Each recovers every panic (one must never unwind through the
// library's frames), and answers FA_FACT_FOUND with the JSON set, FA_FACT_ABSENT, or
// FA_FACT_FAILED with the cause: the library turns a failure into the policy-failure deny.

/*
#include <stdlib.h>
#include "forge_authz.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// callOf is the call behind user_data.
func callOf(ud C.uintptr_t) *factCall { return lookupCall(uintptr(ud)) }

// guard is deferred first by every trampoline: a panic (in the source, or here) fails the
// callback with its value as the cause.
func guard(ud C.uintptr_t, ans *C.struct_fa_answer, code *C.int32_t) {
	if r := recover(); r != nil {
		*code = fail(ud, ans, fmt.Sprintf("panic: %v", r))
	}
}

// fail reports a failed callback: the cause to the library (the decision's detail) and to
// the call (which never allows after it).
func fail(ud C.uintptr_t, ans *C.struct_fa_answer, cause string) C.int32_t {
	defer func() { _ = recover() }() // a bad handle: the library still sees the failure
	msg := C.CString(cause)
	C.fa_answer_fail(ans, msg)
	C.free(unsafe.Pointer(msg))
	if c := callOf(ud); c.failed == "" {
		c.failed = cause
	}
	return C.FA_FACT_FAILED
}

// answer ends a callback: c.buf is the answer when found.
func (c *factCall) answer(ud C.uintptr_t, ans *C.struct_fa_answer, method string, found bool, err error) C.int32_t {
	switch {
	case err != nil:
		return fail(ud, ans, "FactSource."+method+": "+err.Error())
	case c.ctx.Err() != nil:
		// Late (FactBudget) or cancelled: even a good answer fails.
		return fail(ud, ans, "FactSource."+method+": "+c.ctx.Err().Error())
	case !found:
		return C.FA_FACT_ABSENT
	}
	if C.fa_answer_set(ans, (*C.char)(unsafe.Pointer(&c.buf[0])), C.size_t(len(c.buf))) != C.FA_OK {
		return fail(ud, ans, "FactSource."+method+": the answer was refused")
	}
	return C.FA_FACT_FOUND
}

// ask runs one per-fact callback: call asks the source and encodes a found answer into
// c.buf (with encode).
func ask(ud C.uintptr_t, ans *C.struct_fa_answer, method string, call func(c *factCall) (bool, error)) C.int32_t {
	c := callOf(ud)
	found, err := call(c)
	return c.answer(ud, ans, method, found, err)
}

// encode writes a found answer into c.buf, and passes found and err on.
func (c *factCall) encode(found bool, err error, appendJSON func([]byte) []byte) (bool, error) {
	if found && err == nil {
		c.buf = appendJSON(c.buf[:0])
	}
	return found, err
}

// viewerOf is a viewer argument: NULL is anonymous ("").
func viewerOf(viewer *C.char) string {
	if viewer == nil {
		return ""
	}
	return C.GoString(viewer)
}

//export faGoToken
func faGoToken(ud C.uintptr_t, id *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	return ask(ud, ans, "Token", func(c *factCall) (bool, error) {
		v, found, err := c.src.Token(c.ctx, C.GoString(id))
		return c.encode(found, err, v.appendJSON)
	})
}

//export faGoUser
func faGoUser(ud C.uintptr_t, name *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	return ask(ud, ans, "User", func(c *factCall) (bool, error) {
		v, found, err := c.src.User(c.ctx, C.GoString(name))
		return c.encode(found, err, v.appendJSON)
	})
}

//export faGoRepository
func faGoRepository(ud C.uintptr_t, path, viewer *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	return ask(ud, ans, "Repository", func(c *factCall) (bool, error) {
		v, found, err := c.src.Repository(c.ctx, C.GoString(path), viewerOf(viewer))
		return c.encode(found, err, v.appendJSON)
	})
}

//export faGoNamespace
func faGoNamespace(ud C.uintptr_t, name, viewer *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	return ask(ud, ans, "Namespace", func(c *factCall) (bool, error) {
		v, found, err := c.src.Namespace(c.ctx, C.GoString(name), viewerOf(viewer))
		return c.encode(found, err, v.appendJSON)
	})
}

//export faGoSSHKey
func faGoSSHKey(ud C.uintptr_t, id *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	return ask(ud, ans, "SSHKey", func(c *factCall) (bool, error) {
		v, found, err := c.src.(SSHKeySource).SSHKey(c.ctx, C.GoString(id))
		return c.encode(found, err, v.appendJSON)
	})
}

//export faGoRepositories
func faGoRepositories(ud C.uintptr_t, pathsJSON, viewer *C.char, ans *C.struct_fa_answer) (code C.int32_t) {
	defer guard(ud, ans, &code)
	c := callOf(ud)
	var paths []string
	if err := json.Unmarshal([]byte(C.GoString(pathsJSON)), &paths); err != nil {
		return fail(ud, ans, "the batch's paths: "+err.Error())
	}
	list, err := c.src.(BatchSource).Repositories(c.ctx, paths, viewerOf(viewer))
	if err == nil {
		if len(list) != len(paths) {
			return fail(ud, ans, fmt.Sprintf("FactSource.Repositories: %d answers for %d paths", len(list), len(paths)))
		}
		c.buf = appendRepositories(c.buf[:0], list)
	}
	return c.answer(ud, ans, "Repositories", true, err)
}

//export faGoObserve
func faGoObserve(ud C.uintptr_t, asked *C.char) {
	defer func() { _ = recover() }() // observing decides nothing
	c := callOf(ud)
	c.src.(QueryObserver).ObserveQuery(C.GoString(asked))
}

//export faGoEffects
func faGoEffects(ud C.uintptr_t, effects *C.char) {
	defer func() { _ = recover() }() // the decision is made; a panicking sink changes nothing
	c := callOf(ud)
	var e Effects
	if json.Unmarshal([]byte(C.GoString(effects)), &e) == nil {
		c.src.(EffectsSink).Effects(c.parent, e)
	}
}
