package advisor

import (
	"math"
	"testing"
	"time"
)

func TestTimeWeightedAverage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	pt := func(zone string, price float64, at time.Time) PricePoint {
		return PricePoint{Type: "m5.large", Zone: zone, Price: price, At: at}
	}
	tests := []struct {
		name     string
		points   []PricePoint
		from, to time.Time
		want     map[string]float64
	}{
		{"one price all along", []PricePoint{pt("a", 1, h(-5))}, h(0), h(10), map[string]float64{"a": 1}},
		{"change halfway", []PricePoint{pt("a", 1, h(-5)), pt("a", 3, h(5))}, h(0), h(10), map[string]float64{"a": 2}},
		{"quarter at the high price", []PricePoint{pt("a", 3, h(-1)), pt("a", 1, h(1)), pt("a", 1, h(2))}, h(-1), h(7), map[string]float64{"a": 1.5}},
		{"first point inside the window", []PricePoint{pt("a", 2, h(6)), pt("a", 4, h(8))}, h(0), h(10), map[string]float64{"a": 3}},
		{"unsorted input", []PricePoint{pt("a", 3, h(5)), pt("a", 1, h(-5))}, h(0), h(10), map[string]float64{"a": 2}},
		{"zones apart", []PricePoint{pt("a", 1, h(0)), pt("b", 2, h(0))}, h(0), h(10), map[string]float64{"a": 1, "b": 2}},
		{"point after the window", []PricePoint{pt("a", 1, h(0)), pt("a", 9, h(20))}, h(0), h(10), map[string]float64{"a": 1}},
		{"only after the window", []PricePoint{pt("a", 9, h(20))}, h(0), h(10), nil},
		{"one point at the end", []PricePoint{pt("a", 5, h(10))}, h(0), h(10), map[string]float64{"a": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TimeWeightedAverage(tt.points, tt.from, tt.to)["m5.large"]
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for z, w := range tt.want {
				if math.Abs(got[z]-w) > 1e-9 {
					t.Errorf("zone %s = %v, want %v", z, got[z], w)
				}
			}
		})
	}
}
