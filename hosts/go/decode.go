package forgeauthz

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// A decision is decoded on every call. The common one, a flat object of strings and the
// status (no refs, no trace, no escapes), is read here without reflection (encoding/json
// cost ~1.5 µs more per token pull); anything else, or anything this reader does not
// expect, goes to encoding/json. TestDecisionDecoding keeps both equal, and the corpus
// replay decodes every scenario's decision through Decide.

// decodeDecision decodes one decision object.
func decodeDecision(b []byte, d *Decision) error {
	if decodeFlatDecision(b, d) {
		return nil
	}
	*d = Decision{}
	return json.Unmarshal(b, d)
}

// decodeFlatDecision reads {"key":value,…} with keys decision, status, reason, message,
// detail, repository; false (d undefined) for any other shape.
func decodeFlatDecision(b []byte, d *Decision) bool {
	*d = Decision{}
	i := 0
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	if i < len(b) && b[i] == '}' {
		return i+1 == len(b)
	}
	for {
		key, n, ok := plainString(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return false
		}
		i = n + 1
		if string(key) == "status" {
			v, n, ok := smallInt(b, i)
			if !ok {
				return false
			}
			d.Status, i = v, n
		} else {
			s, n, ok := plainString(b, i)
			if !ok {
				return false
			}
			i = n
			switch string(key) {
			case "decision":
				switch string(s) {
				case "allow":
					d.Decision = "allow"
				case "deny":
					d.Decision = "deny"
				default:
					d.Decision = string(s)
				}
			case "reason":
				d.Reason = string(s)
			case "message":
				d.Message = string(s)
			case "detail":
				detail := string(s)
				d.Detail = &detail
			case "repository":
				d.Repository = string(s)
			default:
				return false
			}
		}
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i+1 == len(b)
		default:
			return false
		}
	}
}

// plainString reads a JSON string at b[i] with no escape, no control character and valid
// UTF-8: its bytes and the index after its closing quote.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	end := bytes.IndexByte(b[i+1:], '"')
	if end < 0 {
		return nil, 0, false
	}
	s := b[i+1 : i+1+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return nil, 0, false
		}
	}
	if !utf8.Valid(s) {
		return nil, 0, false
	}
	return s, i + 2 + end, true
}

// smallInt reads 1 to 4 decimal digits (an HTTP status) at b[i].
func smallInt(b []byte, i int) (int, int, bool) {
	v, n := 0, i
	for n < len(b) && n-i < 5 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int(b[n]-'0')
		n++
	}
	if n == i || n-i > 4 || (b[i] == '0' && n-i > 1) {
		return 0, 0, false
	}
	return v, n, true
}
