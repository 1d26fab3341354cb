package resolver

import (
	"path"
	"time"

	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// ScenarioZone loads the zone files of an embedded scenario. Records are
// attributed to "fixtures/NAME/FILE", the file's path in the repository.
func ScenarioZone(sc *fixtures.Scenario) (*Zone, error) {
	return ScenarioZoneRewritten(sc, nil)
}

// ScenarioZoneRewritten is ScenarioZone with each file's text passed
// through rewrite first (when not nil): the reference server fills in
// records that depend on what it generates at start-up (TLSA data for its
// certificates). rewrite must keep line numbers as they are. A scenario
// with sign: true has each zone signed after the rewrite (SignZone).
func ScenarioZoneRewritten(sc *fixtures.Scenario, rewrite func([]byte) []byte) (*Zone, error) {
	var srcs []ZoneSource
	for _, f := range sc.Zones {
		data, err := sc.File(f)
		if err != nil {
			return nil, &ZoneError{File: path.Join("fixtures", sc.Name, f), Reason: err.Error()}
		}
		if rewrite != nil {
			data = rewrite(data)
		}
		if sc.Sign {
			// Signed after the rewrite: the signatures cover what is
			// served. Valid from an hour ago for thirty days.
			now := time.Now()
			if data, err = SignZone(data, fixtures.Origin(f), SignOptions{Inception: now.Add(-time.Hour), Expiration: now.Add(30 * 24 * time.Hour)}); err != nil {
				return nil, &ZoneError{File: path.Join("fixtures", sc.Name, f), Reason: err.Error()}
			}
		}
		srcs = append(srcs, ZoneSource{
			File:   path.Join("fixtures", sc.Name, f),
			Origin: fixtures.Origin(f),
			Data:   data,
		})
	}
	return NewZone(srcs...)
}
