package forgeauthz

import (
	"strconv"
	"unicode/utf8"
)

// A request is encoded on every decision: by hand, without reflection (encoding/json took
// 6.6 µs for a token pull's request, more than the policy call). TestRequestEncoding keeps
// it equal to encoding/json's output.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Like encoding/json, invalid UTF-8 becomes
// U+FFFD (the library refuses input that is not UTF-8).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// fields writes the members of a JSON object.
type fields struct {
	b     []byte
	first bool
}

func (f *fields) key(k string) {
	if !f.first {
		f.b = append(f.b, ',')
	}
	f.first = false
	f.b = append(f.b, '"')
	f.b = append(f.b, k...) // keys are constants, nothing to escape
	f.b = append(f.b, '"', ':')
}

func (f *fields) str(k, v string) {
	f.key(k)
	f.b = appendString(f.b, v)
}

func (f *fields) strOmit(k, v string) {
	if v != "" {
		f.str(k, v)
	}
}

func (f *fields) boolOmit(k string, v bool) {
	if v {
		f.key(k)
		f.b = append(f.b, "true"...)
	}
}

// list writes a list of strings (of any string type: []string, []Category), omitted when
// empty. (A function: Go methods take no type parameters.)
func list[S ~string](f *fields, k string, l []S) {
	if len(l) == 0 {
		return
	}
	f.key(k)
	f.b = append(f.b, '[')
	for i, s := range l {
		if i > 0 {
			f.b = append(f.b, ',')
		}
		f.b = appendString(f.b, string(s))
	}
	f.b = append(f.b, ']')
}

func (c Credential) appendJSON(b []byte) []byte {
	switch c.kind {
	case credBearer:
		b = append(b, `{"bearer":`...)
		b = appendString(b, c.value)
	case credBasic:
		b = append(b, `{"basic":{"password":`...)
		b = appendString(b, c.password)
		b = append(b, `,"username":`...)
		b = appendString(b, c.value)
		b = append(b, '}')
	case credSSHKey:
		b = append(b, `{"ssh-key":`...)
		b = appendString(b, c.value)
	case credSession:
		b = append(b, `{"session":`...)
		b = appendString(b, c.value)
	default:
		return append(b, `"anonymous"`...)
	}
	return append(b, '}')
}

// appendJSON appends the request in the request format (see MarshalJSON).
func (r *Request) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.key("credential")
	f.b = r.Credential.appendJSON(f.b)
	list(&f, "also_presented", r.AlsoPresented)
	f.strOmit("client_address", r.ClientAddress)
	f.strOmit("kind", string(r.Kind))
	f.strOmit("transport", string(r.Transport))
	switch r.Kind {
	case "", KindGit, KindCreate:
		f.str("repository", r.Repository)
	default:
		f.strOmit("repository", r.Repository)
	}
	f.strOmit("action", string(r.Action))
	if len(r.Refs) > 0 {
		f.key("refs")
		f.b = append(f.b, '[')
		for i, u := range r.Refs {
			if i > 0 {
				f.b = append(f.b, ',')
			}
			g := fields{b: append(f.b, '{'), first: true}
			g.str("name", u.Name)
			g.strOmit("old", u.Old)
			g.strOmit("new", u.New)
			g.boolOmit("force", u.Force)
			f.b = append(g.b, '}')
		}
		f.b = append(f.b, ']')
	}
	list(&f, "ref_names", r.RefNames)
	list(&f, "repositories", r.Repositories)
	f.strOmit("step", string(r.Step))
	f.strOmit("method", r.Method)
	list(&f, "categories", r.Categories)
	f.strOmit("namespace", r.Namespace)
	f.boolOmit("requires_auth", r.RequiresAuth)
	f.boolOmit("admin_only", r.AdminOnly)
	f.strOmit("required_role", string(r.RequiredRole))
	f.strOmit("operation", string(r.Operation))
	f.strOmit("sudo", r.Sudo)
	f.boolOmit("package", r.Package)
	f.boolOmit("writes_content", r.WritesContent)
	f.boolOmit("creates_in_own_namespace", r.CreatesInOwnNamespace)
	if r.Now != 0 {
		f.key("now")
		f.b = strconv.AppendInt(f.b, r.Now, 10)
	}
	f.boolOmit("explain", r.Explain)
	return append(f.b, '}')
}
