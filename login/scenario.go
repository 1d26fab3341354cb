package login

import "github.com/mailcheck-cli/mailcheck/fixtures"

// ScenarioRequest is the support case of an embedded scenario (its login:
// block) as a Request: the address, the settings the user typed, and the
// password to try. ok is false when the scenario has no support case.
func ScenarioRequest(sc *fixtures.Scenario) (req Request, ok bool) {
	lc := sc.Login
	if lc == nil {
		return Request{}, false
	}
	req.Address = lc.Address
	if lc.Port != 0 || lc.Host != "" {
		host := lc.Host
		if host == "" {
			host = "mail." + sc.Domain
		}
		req.Settings = &Settings{Host: host, Port: lc.Port, Protocol: lc.Protocol, TLS: lc.TLS}
	}
	if _, pw, ok := sc.Account(); ok && !lc.NoPassword {
		req.Password = Password(pw)
		if lc.Password != "" {
			req.Password = Password(lc.Password)
		}
	}
	return req, true
}
