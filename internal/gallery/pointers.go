package gallery

import "reflect"

// HoldsPointers reports whether a value of type t holds a pointer the
// garbage collector follows (a pointer, string, slice, map, channel,
// function or interface, directly or in an array or struct field). The
// galleries' per-entry structures must not (see Key): their tests check
// it.
func HoldsPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && HoldsPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if HoldsPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return true
	default:
		return false
	}
}
