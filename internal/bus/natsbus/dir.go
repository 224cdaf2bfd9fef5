package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/duet-call/duet/internal/bus"
)

// The room directory: one key per room in a JetStream KV bucket, its value
// the JSON list of the places taken (at most two). Every change is a
// compare-and-set on the key's revision, so two nodes admitting a peer to
// the same room at once cannot both succeed: one retries and sees the other.
//
// One worker per node runs the directory operations in order, so a release
// queued by a leave is done before a later join on this node reads the room.

type dirOp struct {
	ctx     context.Context // claim only
	room    string
	place   bus.Place
	resume  *bus.Resume
	release bool
	reply   chan claimResult // claim only; buffered
	resync  []bus.RoomPlace  // write these back (after a reconnect)
	then    *outMsg          // publish this, after the operations queued before it
}

type claimResult struct {
	c   bus.Claim
	err error
}

const maxCAS = 16 // retries of one operation under contention

// Claim takes a place for me in room; see bus.Bus.
func (b *Bus) Claim(ctx context.Context, room string, me bus.Place, resume *bus.Resume) (bus.Claim, error) {
	op := dirOp{ctx: ctx, room: room, place: me, resume: resume, reply: make(chan claimResult, 1)}
	select {
	case b.dir <- op:
	default:
		return bus.Claim{}, fmt.Errorf("%w: directory queue full", bus.ErrUnavailable)
	}
	select {
	case r := <-op.reply:
		return r.c, r.err
	case <-ctx.Done():
		return bus.Claim{}, fmt.Errorf("%w: %w", bus.ErrUnavailable, ctx.Err())
	case <-b.stop:
		return bus.Claim{}, fmt.Errorf("%w: bus closed", bus.ErrUnavailable)
	}
}

// Release queues the freeing of p's place; see bus.Bus. A full queue drops
// it (counted): the place is then freed when its node times out.
func (b *Bus) Release(room string, p bus.Place) {
	select {
	case b.dir <- dirOp{room: room, place: p, release: true}:
	default:
		b.dropped.Add(1)
	}
}

// directory is the worker. Releases that fail (NATS down) are retried once
// a second, in order, ahead of nothing newer for the same room being lost:
// a release only ever removes the exact place it names.
func (b *Bus) directory() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var retry []dirOp
	for {
		select {
		case <-b.stop:
			return
		case op := <-b.dir:
			if op.resync != nil {
				b.resync(op.resync)
				continue
			}
			if op.then != nil {
				b.queueOut(*op.then)
				continue
			}
			if op.release {
				if err := b.release(op.room, op.place); err != nil {
					if len(retry) < 100000 {
						retry = append(retry, op)
					} else {
						b.dropped.Add(1)
					}
				}
				continue
			}
			c, err := b.claim(op.ctx, op.room, op.place, op.resume)
			if err == nil && op.ctx.Err() != nil {
				// The joiner gave up waiting: do not leave its place held.
				b.release(op.room, c.Me)
				err = op.ctx.Err()
			}
			op.reply <- claimResult{c, err}
		case <-t.C:
			for len(retry) > 0 && b.nc.IsConnected() {
				if b.release(retry[0].room, retry[0].place) != nil {
					break
				}
				retry = retry[1:]
			}
		}
	}
}

func (b *Bus) opCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, b.cfg.OpTimeout)
}

// bucket returns the directory bucket, making it if it does not exist
// (first node, or a NATS server restarted without its store).
func (b *Bus) bucket(ctx context.Context, remake bool) (jetstream.KeyValue, error) {
	b.kvMu.Lock()
	defer b.kvMu.Unlock()
	if b.kv != nil && !remake {
		return b.kv, nil
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      b.cfg.Bucket,
		Description: "duet room directory: the places taken in each room",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: room directory bucket %s: %w", b.cfg.Bucket, err)
	}
	b.kv = kv
	return kv, nil
}

// read returns the places of room and the revision to compare against (0:
// no key, or a deleted one).
func (b *Bus) read(ctx context.Context, room string) ([]bus.Place, uint64, jetstream.KeyValue, error) {
	kv, err := b.bucket(ctx, false)
	if err != nil {
		return nil, 0, nil, err
	}
	e, err := kv.Get(ctx, room)
	// A server restarted without its store has no bucket: a direct get
	// then finds no responder. Making it again is idempotent.
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
		if kv, err = b.bucket(ctx, true); err == nil {
			e, err = kv.Get(ctx, room)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, kv, nil
	case err != nil:
		return nil, 0, nil, err
	}
	var places []bus.Place
	if err := json.Unmarshal(e.Value(), &places); err != nil {
		// A value we cannot read is overwritten rather than wedging the room.
		b.log.Warn("nats: unreadable room entry; replacing it", "room", room, "err", err)
		places = nil
	}
	return places, e.Revision(), kv, nil
}

// write stores places at rev (create when rev is 0), or deletes the key
// when no place is left. A false ok means another node changed it first.
func write(ctx context.Context, kv jetstream.KeyValue, room string, places []bus.Place, rev uint64) (ok bool, err error) {
	switch {
	case len(places) == 0 && rev == 0:
		return true, nil
	case len(places) == 0:
		err = kv.Delete(ctx, room, jetstream.LastRevision(rev))
	default:
		v, _ := json.Marshal(places)
		if rev == 0 {
			_, err = kv.Create(ctx, room, v)
		} else {
			_, err = kv.Update(ctx, room, v, rev)
		}
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return false, nil
	}
	return err == nil, err
}

func (b *Bus) claim(parent context.Context, room string, me bus.Place, resume *bus.Resume) (bus.Claim, error) {
	ctx, cancel := b.opCtx(parent)
	defer cancel()
	for range maxCAS {
		places, rev, kv, err := b.read(ctx, room)
		if err != nil {
			return bus.Claim{}, fmt.Errorf("%w: %w", bus.ErrUnavailable, err)
		}
		c := bus.Claim{Me: me}
		now := time.Now()
		kept := places[:0:0]
		for _, p := range places {
			switch {
			case p.Peer == me.Peer && resume != nil:
				if p.Gen > resume.Gen {
					return bus.Claim{}, bus.ErrStale // a newer token took it
				}
				c.Replaced = &p
			case !b.alive.alive(p.Node, now):
				// Its node is gone; the place is free. The node's own
				// partners were or will be told by their nodes.
			default:
				kept = append(kept, p)
			}
		}
		if resume != nil && c.Replaced == nil && resume.Issuer != b.node && b.alive.heard(resume.Issuer, now) {
			// The node that issued the token is up and no longer holds
			// the place: it ended there (leave, grace over).
			return bus.Claim{}, bus.ErrStale
		}
		if len(kept) >= 2 {
			return bus.Claim{}, bus.ErrRoomFull
		}
		if len(kept) == 1 {
			p := kept[0]
			c.Partner = &p
			c.Me.Polite = !p.Polite
		}
		ok, err := write(ctx, kv, room, append(kept, c.Me), rev)
		if err != nil {
			return bus.Claim{}, fmt.Errorf("%w: %w", bus.ErrUnavailable, err)
		}
		if ok {
			if c.Partner != nil {
				b.alive.watch(c.Partner.Node)
			}
			return c, nil
		}
	}
	return bus.Claim{}, fmt.Errorf("%w: room %s changed too often", bus.ErrUnavailable, room)
}

func (b *Bus) release(room string, p bus.Place) error {
	ctx, cancel := b.opCtx(context.Background())
	defer cancel()
	for range maxCAS {
		places, rev, kv, err := b.read(ctx, room)
		if err != nil {
			return err
		}
		kept := places[:0:0]
		for _, q := range places {
			if q.Peer != p.Peer || q.Node != p.Node {
				kept = append(kept, q)
			}
		}
		if len(kept) == len(places) {
			return nil // not ours any more (resumed elsewhere) or gone already
		}
		if ok, err := write(ctx, kv, room, kept, rev); err != nil {
			return err
		} else if ok {
			return nil
		}
	}
	return fmt.Errorf("natsbus: release in room %s: changed too often", room)
}

// resync writes this node's places back where the directory lost them (a
// NATS server restarted without its store), so the limit of two holds for
// rooms that were in progress. A place already there is left alone; a room
// that meanwhile filled with others keeps them (logged).
func (b *Bus) resync(places []bus.RoomPlace) {
	ctx, cancel := b.opCtx(context.Background())
	epoch, err := b.epoch(ctx)
	cancel()
	if err != nil {
		b.log.Warn("nats: cannot tell whether the directory survived", "err", err)
	} else if epoch == b.epochSeen {
		return // the same store: nothing was lost
	}
	b.epochSeen = epoch
	b.log.Warn("nats: the room directory was lost; restoring this node's places", "places", len(places))
	for _, rp := range places {
		if err := b.reassert(rp.Room, rp.Place); err != nil {
			b.log.Warn("nats: could not restore a place in the directory", "room", rp.Room, "err", err)
			continue
		}
	}
}

func (b *Bus) reassert(room string, p bus.Place) error {
	ctx, cancel := b.opCtx(context.Background())
	defer cancel()
	for range maxCAS {
		places, rev, kv, err := b.read(ctx, room)
		if err != nil {
			return err
		}
		for _, q := range places {
			if q.Peer == p.Peer {
				return nil // there (here, or taken back by a resume elsewhere)
			}
		}
		if len(places) >= 2 {
			return errors.New("room taken by two others meanwhile")
		}
		ok, err := write(ctx, kv, room, append(places, p), rev)
		if err != nil {
			return err
		}
		if ok {
			b.restored.Add(1)
			return nil
		}
	}
	return fmt.Errorf("room %s changed too often", room)
}

// epochKey marks one life of the bucket: made with it, gone with it. Dots
// are not allowed in room ids, so it cannot clash with a room.
const epochKey = "duet.epoch"

// epoch returns the bucket's epoch marker, making one if there is none.
func (b *Bus) epoch(ctx context.Context) (string, error) {
	kv, err := b.bucket(ctx, false)
	if err != nil {
		return "", err
	}
	for range maxCAS {
		e, err := kv.Get(ctx, epochKey)
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
			if kv, err = b.bucket(ctx, true); err != nil {
				return "", err
			}
			continue
		}
		if err == nil {
			return string(e.Value()), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", err
		}
		v := []byte(b.node + "-" + time.Now().UTC().Format(time.RFC3339Nano))
		if _, err := kv.Create(ctx, epochKey, v); err == nil {
			return string(v), nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", err
		}
	}
	return "", errors.New("epoch marker changed too often")
}
