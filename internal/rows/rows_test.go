package rows

import "testing"

// TestBatchResetKeepsWhatIsUsed: Reset keeps up to keepRows of capacity
// always, more only while a quarter of it was used, and clears the rows
// it keeps (they point into events).
func TestBatchResetKeepsWhatIsUsed(t *testing.T) {
	var b Batch
	for range 10 * keepRows {
		b.Changes = append(b.Changes, ScoreChange{AccountID: "a"})
	}
	grown := cap(b.Changes)
	b.Reset()
	if cap(b.Changes) != grown || len(b.Changes) != 0 {
		t.Fatalf("a fully used batch kept cap %d len %d, want cap %d len 0", cap(b.Changes), len(b.Changes), grown)
	}
	if b.Changes[:1][0].AccountID != "" {
		t.Fatal("Reset kept a row's strings")
	}
	// A cycle that uses less than a quarter: the burst's capacity goes.
	b.Changes = append(b.Changes, ScoreChange{AccountID: "b"})
	b.Reset()
	if b.Changes != nil {
		t.Fatalf("capacity %d kept after a cycle that used 1 row", cap(b.Changes))
	}
	// Within keepRows capacity stays whatever the use.
	for range keepRows / 2 {
		b.Scores = append(b.Scores, AccountScore{})
	}
	small := cap(b.Scores)
	b.Reset()
	b.Reset()
	if cap(b.Scores) != small {
		t.Fatalf("capacity %d within keepRows not kept (%d)", small, cap(b.Scores))
	}
}
