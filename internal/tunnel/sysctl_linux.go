package tunnel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(key, value string) error {
	if err := os.WriteFile(sysctlPath(key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl -w %s=%s: %w", key, value, err)
	}
	return nil
}

// ensureSysctls sets the sysctls s asks for and records, in the overlay
// device's alias, the values they had, for Down to put back.
func (k *kernel) ensureSysctls(s State, u *undo) error {
	dev, err := k.link(s.Device)
	if err != nil || dev == nil {
		return fmt.Errorf("device %s missing: %v", s.Device, err)
	}
	restores := Restores(dev.Attrs().Alias)
	changed := false
	for _, sc := range s.Sysctls {
		cur, err := readSysctl(sc.Key)
		if err != nil {
			return err
		}
		if cur == sc.Value {
			continue
		}
		if err := writeSysctl(sc.Key, sc.Value); err != nil {
			return err
		}
		key, old := sc.Key, cur
		u.push(func() { _ = writeSysctl(key, old) })
		k.did(sc.setCmd())
		known := false
		for _, r := range restores {
			known = known || r.Key == sc.Key
		}
		if !known {
			restores = append(restores, Sysctl{Key: sc.Key, Value: cur})
			changed = true
		}
	}
	if changed {
		if err := k.h.LinkSetAlias(dev, WithRestores(dev.Attrs().Alias, restores)); err != nil {
			return fmt.Errorf("recording the old sysctl values in the alias of %s: %w", s.Device, err)
		}
	}
	return nil
}
