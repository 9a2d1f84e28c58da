package advisor

import (
	"fmt"
	"sort"
)

// The built-in On-Demand list prices are generated from the shared data
// (Karpenter's offline price table, see ../shared/data/SOURCES.txt). To
// regenerate them after updating that file:
//
//	go generate ./pkg/advisor
//
//go:generate go run ./internal/genprices -in ../../../shared/data/ondemand-prices-us-east-1.json -out zz_generated_listprices.go

// listPrice is one row of the built-in table.
type listPrice struct {
	typ   string
	price float64
}

// ListPrices are On-Demand list prices per instance type for a region, with
// where they come from. The zero value knows no price.
type ListPrices struct {
	// Region is the region the prices are used for.
	Region string
	// Source names the table and its date, as every output prints it.
	Source string
	// Estimated is true when the table is another region's: its ratios
	// between types hold, its absolute level is only an estimate.
	Estimated bool
	lookup    func(typ string) (float64, bool)
}

// Price returns typ's On-Demand list price in USD per hour, and false when
// the table does not list it.
func (l ListPrices) Price(typ string) (float64, bool) {
	if l.lookup == nil {
		return 0, false
	}
	return l.lookup(typ)
}

// BuiltinListPrices returns the compiled-in table for region. It holds
// us-east-1 prices; for any other region they are used as they are and
// marked Estimated: the ranking needs only the ratios between types, which
// carry over, while the absolute level differs by region (--aws or
// --spot-prices give real Spot prices).
func BuiltinListPrices(region string) ListPrices {
	l := ListPrices{Region: region, Estimated: region != builtinListPriceRegion, lookup: builtinPrice}
	table := fmt.Sprintf("%s On-Demand list prices of %s (%s)", builtinListPriceRegion, builtinListPriceDate, builtinListPriceSource)
	l.Source = "built-in " + table
	if l.Estimated {
		l.Source = fmt.Sprintf("estimated for %s from the built-in %s", region, table)
	}
	return l
}

// builtinPrice looks typ up in the sorted built-in table.
func builtinPrice(typ string) (float64, bool) {
	i := sort.Search(len(builtinListPrices), func(i int) bool { return builtinListPrices[i].typ >= typ })
	if i < len(builtinListPrices) && builtinListPrices[i].typ == typ {
		return builtinListPrices[i].price, true
	}
	return 0, false
}

// ListPricesFrom is a table of prices from a map, for tests and callers with
// their own figures.
func ListPricesFrom(region, source string, estimated bool, prices map[string]float64) ListPrices {
	return ListPrices{Region: region, Source: source, Estimated: estimated, lookup: func(typ string) (float64, bool) {
		p, ok := prices[typ]
		return p, ok
	}}
}
