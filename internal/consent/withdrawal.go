package consent

// AfterWithdrawal plans the erasure that follows appending newRecord to a
// person's records (records, without newRecord). It is called after every
// consent record that is not a grant; for a grant it returns nothing.
//
//   - When newRecord removes the basis of identity/registration (withdrawn or
//     declined), the person is erased: erasePerson is true and eraseCategories
//     is every category, Identity first.
//   - Otherwise, when after newRecord no purpose of its category is granted any
//     more (the latest record of every pair of the category is not a grant),
//     the category's data is erased: eraseCategories is that category.
//   - Care categories (CareCategories) are never erased here: their data is
//     held for care, not on consent; losing research consent only stops
//     research use. (A specimen collected only for the biobank is the
//     specimen module's to destroy, by its consented uses.)
//
// Expiry and guardian lapse are not withdrawals; see DueForErasure. Erasing is
// idempotent, so a category with no data may be returned. Records of other
// persons than newRecord.PersonID are ignored.
func AfterWithdrawal(records []Record, newRecord Record) (eraseCategories []Category, erasePerson bool) {
	if newRecord.Decision == Granted || !ValidPair(newRecord.Category, newRecord.Purpose) {
		return nil, false
	}
	if newRecord.Category.IsCare() {
		return nil, false
	}
	own := ownRecords(records, newRecord.PersonID)
	mine := make([]Record, 0, len(own)+1)
	state := State(append(append(mine, own...), newRecord))
	if state[newRecord.Pair()].Decision == Granted {
		// newRecord is older than the current state: nothing changed.
		return nil, false
	}
	if newRecord.Category == Identity {
		return append([]Category(nil), Categories...), true
	}
	for _, p := range PurposesFor(newRecord.Category) {
		if rec, ok := state[Pair{newRecord.Category, p}]; ok && rec.Decision == Granted {
			return nil, false
		}
	}
	return []Category{newRecord.Category}, false
}
