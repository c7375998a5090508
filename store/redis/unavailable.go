package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// unavailableHook maps every failure to reach Redis to store.ErrUnavailable, in one place: each
// command and pipeline (MULTI/EXEC included) goes through it, so no method needs its own check.
// The original error stays in the chain. Redis's answers (Nil, a failed WATCH, a wrong type)
// pass unchanged: the server was there.
type unavailableHook struct{}

func (unavailableHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (unavailableHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return markUnavailable(next(ctx, cmd))
	}
}

func (unavailableHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if e := cmd.Err(); unavailable(e) && !errors.Is(e, store.ErrUnavailable) {
				cmd.SetErr(markUnavailable(e))
			}
		}
		return markUnavailable(err)
	}
}

func markUnavailable(err error) error {
	if !unavailable(err) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// unavailable reports whether err means Redis could not be reached or cannot serve now:
// refused, reset or timed-out connections, a closed client or exhausted pool, and the replies
// of a server that is loading, has lost its master or cluster, or is a read-only replica.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, goredis.TxFailedErr) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up: its own deadline, not the store's fault
	}
	var ne net.Error
	switch {
	case errors.Is(err, goredis.ErrClosed), errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	return goredis.IsLoadingError(err) || goredis.IsMasterDownError(err) || goredis.IsClusterDownError(err) ||
		goredis.IsTryAgainError(err) || goredis.IsReadOnlyError(err)
}
