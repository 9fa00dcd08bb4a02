package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

// Redis Cluster hash slots: CRC16 (XMODEM: poly 0x1021, init 0) of the key, or of
// its hash tag (the part between the first '{' and the next '}', when not
// empty), modulo 16384.
//
// Hand-written because rueidis keeps its slot function internal (internal/cmds).
// The only public way to learn a key's slot is to build a throwaway command per
// key, which costs a pooled allocation per key on the read path. The tests check
// this function against CLUSTER KEYSLOT of a real cluster and against rueidis'
// own builder.

const numSlots = 16384

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

// hashSlot returns the cluster hash slot of key.
func hashSlot(key string) uint16 {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return crc16(key) % numSlots
			}
		}
		break
	}
	return crc16(key) % numSlots
}

// slotGroup is the prefixed keys of one hash slot and where each came from in
// the caller's key list.
type slotGroup struct {
	keys  []string
	index []int
}

// groupBySlot prefixes the keys and groups them by hash slot, keeping the order
// of first appearance.
func groupBySlot(keys []string, prefix string) []slotGroup {
	bySlot := make(map[uint16]int, len(keys))
	groups := make([]slotGroup, 0, len(keys))
	for i, k := range keys {
		full := prefix + k
		slot := hashSlot(full)
		g, ok := bySlot[slot]
		if !ok {
			g = len(groups)
			bySlot[slot] = g
			groups = append(groups, slotGroup{})
		}
		groups[g].keys = append(groups[g].keys, full)
		groups[g].index = append(groups[g].index, i)
	}
	return groups
}
