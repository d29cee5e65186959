package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/creditd/creditd/domain"
)

// PostgreSQL's text and jsonb cannot hold NUL, and both need valid UTF-8:
// such text is invalid input, not a failure of the database later.
func TestValidateReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{"", true},
		{"dubbing job 981", true},
		{"tab\tand newline\n are text", true},
		{"한글 ✓ 🎉", true},
		{strings.Repeat("é", domain.MaxReasonLength), true},
		{strings.Repeat("é", domain.MaxReasonLength+1), false},
		{"nul\x00inside", false},
		{"\x00", false},
		{"bad \xff byte", false},
		{"truncated \xc3", false},
		{"surrogate \xed\xa0\x80", false},
	} {
		err := domain.ValidateReason(tc.reason)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateReason(%q) = %v, want ok=%v", tc.reason, err, tc.ok)
		}
		if err != nil && !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ValidateReason(%q) = %v, not invalid input", tc.reason, err)
		}
	}
}

func TestValidateMetadata(t *testing.T) {
	many := map[string]string{}
	for i := range domain.MaxMetadataKeys + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		m    map[string]string
		ok   bool
	}{
		{"nil", nil, true},
		{"plain", map[string]string{"order": "o-1", "한": "글"}, true},
		{"empty value", map[string]string{"k": ""}, true},
		{"empty key", map[string]string{"": "v"}, false},
		{"long key", map[string]string{strings.Repeat("k", domain.MaxMetadataKeyLength+1): "v"}, false},
		{"long value", map[string]string{"k": strings.Repeat("v", domain.MaxMetadataValueLength+1)}, false},
		{"too many keys", many, false},
		{"NUL in key", map[string]string{"a\x00b": "v"}, false},
		{"NUL key", map[string]string{"\x00": "v"}, false},
		{"NUL in value", map[string]string{"k": "a\x00b"}, false},
		{"invalid UTF-8 key", map[string]string{"\xff": "v"}, false},
		{"invalid UTF-8 value", map[string]string{"k": "\xc3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.ValidateMetadata(tc.m)
			if (err == nil) != tc.ok {
				t.Errorf("ValidateMetadata = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, domain.ErrInvalidInput) {
				t.Errorf("ValidateMetadata = %v, not invalid input", err)
			}
		})
	}
}
