package analytics

import (
	"encoding/json"
	"math"
	"strconv"
)

// The object type of Customer.io Journeys, shared by Identify, Group,
// DeleteRelationship and DeleteObject: given as a field (ObjectTypeID, a
// stringified integer checked by checkObjectType) and, in the traits or
// properties, under the keys Customer.io's actions read.

// objectTypeOf returns the object type of a message given as the field
// named field (explicit, already checked) and as the keys object_type_id
// and objectTypeId of m, the traits or properties at base. A value in m
// may be a string holding a positive integer or a whole positive number
// (Customer.io's own examples send numbers, and JSON decodes them as
// float64); every one given must agree. It returns the type as a decimal
// string, or "" when none is given.
func objectTypeOf(e *encoder, field, explicit, base string, m map[string]any) (string, error) {
	got, from := explicit, field
	for _, key := range [...]string{"object_type_id", "objectTypeId"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		path := base + "." + key
		s, ok := objectTypeString(v)
		if !ok {
			return "", e.invalid(path, "must be a positive integer, as a string such as \"1\" or a whole number")
		}
		if err := checkObjectType(e, path, s); err != nil {
			return "", err
		}
		if got != "" && s != got {
			return "", e.invalid(from, from+" "+got+" disagrees with "+path+" "+s)
		}
		got, from = s, path
	}
	return got, nil
}

// objectTypeString returns v, an object type given in a map, as the
// decimal string checkObjectType takes.
func objectTypeString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		if x != math.Trunc(x) || x < 1 || x > math.MaxUint32 {
			return "", false
		}
		return strconv.FormatUint(uint64(x), 10), true
	case float32:
		return objectTypeString(float64(x))
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case json.Number:
		return objectTypeString(string(x))
	}
	return "", false
}
