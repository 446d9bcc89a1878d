package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vishvananda/netlink"
)

// Down removes what Up made for s: the devices that carry mcast tunnel's
// device group or alias (their addresses, routes and FDB entries go with
// them), and puts back the sysctls Up changed. Devices of those names that
// mcast tunnel did not make are left alone and reported in the error. It
// returns how many changes it made.
func Down(ctx context.Context, s State, log io.Writer) (int, error) {
	k, err := newKernel(log)
	if err != nil {
		return 0, err
	}
	defer k.close()
	var restores []Sysctl
	var errs []error
	type ours struct {
		l   Link
		dev netlink.Link
	}
	var del []ours
	for i := len(s.Links) - 1; i >= 0; i-- {
		l := s.Links[i]
		cur, err := k.link(l.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur == nil {
			continue
		}
		if !owned(cur) {
			errs = append(errs, fmt.Errorf("left device %s alone: mcast tunnel did not make it", l.Name))
			continue
		}
		restores = append(restores, Restores(cur.Attrs().Alias)...)
		del = append(del, ours{l, cur})
	}
	// The sysctls go back before the devices whose aliases record their
	// old values are deleted: killed in between, down run again still
	// finds the records.
	for _, r := range restores {
		cur, err := readSysctl(r.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur == r.Value {
			continue
		}
		if err := writeSysctl(r.Key, r.Value); err != nil {
			errs = append(errs, err)
			continue
		}
		k.did(r.setCmd())
	}
	for _, d := range del {
		if err := k.h.LinkDel(d.dev); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.l.delCmd(), err))
			continue
		}
		k.did(d.l.delCmd())
	}
	return k.n, errors.Join(errs...)
}
