package consent

import "testing"

// TestDecideOperation: audit metadata and consent statistics are the
// auditor's, sites the admin's, one's own second factor every operator's;
// every other role (the subject included) is refused.
func TestDecideOperation(t *testing.T) {
	want := map[Operation][]Role{
		ReadAuditLog:          {Auditor},
		ReadConsentStatistics: {Auditor},
		ManageSites:           {Admin},
		ManageAreas:           {Admin},
		ReadReports:           {Auditor, Manager},
		ManageOperators:       {Admin},
		ManageOwnCredential:   OperatorRoles,
	}
	for _, op := range Operations {
		for _, role := range append(append([]Role(nil), OperatorRoles...), Subject) {
			allowed := false
			for _, r := range want[op] {
				allowed = allowed || r == role
			}
			v := DecideOperation(role, op)
			if v.Allow != allowed || (!allowed && v.Reason != ReasonRoleNotAllowed) {
				t.Errorf("%s %s: %v, want allow=%v", role, op, v, allowed)
			}
		}
	}
	if v := DecideOperation(Auditor, "export_everything"); v.Allow || v.Reason != ReasonInvalidRequest {
		t.Errorf("unknown operation: %v", v)
	}
}
