package envelope

import "errors"

// IsShredded reports whether err says the data key of a value was shredded
// (ErrShredded). It lets a consumer that knows the keyring only through its
// own small interface (registry.Keyring) recognise an erasure without
// importing this package.
func (k *Keyring) IsShredded(err error) bool { return errors.Is(err, ErrShredded) }
