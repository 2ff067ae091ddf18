using System.Collections.Concurrent;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>
/// A <see cref="SynchronizationContext"/> of one thread, as a desktop UI's or a Blazor circuit's: what is posted to it
/// runs on that thread only once the thread is free. Code that blocks that thread on a task (sync over async) hangs
/// for good when an await inside the task resumes on the context. <see cref="Run{T}"/> says how often that was tried.
/// </summary>
public sealed class SingleThreadedContext : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _posted = new();
    private int _posts;

    /// <summary>How many callbacks were posted to the context.</summary>
    public int Posts => Volatile.Read(ref _posts);

    public override void Post(SendOrPostCallback d, object? state)
    {
        Interlocked.Increment(ref _posts);
        _posted.Add((d, state));
    }

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>
    /// Runs <paramref name="blocking"/> on a thread of its own under a new context and waits up to
    /// <paramref name="timeout"/> for it. Returns its result, or throws <see cref="TimeoutException"/> when it hangs;
    /// the callbacks posted meanwhile are then run on the thread pool, so that the hung thread ends after the test.
    /// </summary>
    public static async Task<(T Result, int Posts)> Run<T>(Func<T> blocking, TimeSpan timeout)
    {
        var context = new SingleThreadedContext();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            SetSynchronizationContext(context);
            try
            {
                done.TrySetResult(blocking());
            }
            catch (Exception exception)
            {
                done.TrySetException(exception);
            }
        })
        {
            IsBackground = true,
        };
        thread.Start();
        if (await Task.WhenAny(done.Task, Task.Delay(timeout)) != done.Task)
        {
            _ = Task.Run(() =>
            {
                while (!done.Task.IsCompleted && context._posted.TryTake(out var posted, TimeSpan.FromSeconds(30)))
                {
                    posted.Callback(posted.State);
                }
            });
            throw new TimeoutException($"The call blocked its thread for {timeout.TotalSeconds} s: {context.Posts} continuation(s) were posted to the caller's synchronization context, which the blocked call holds.");
        }

        return (await done.Task, context.Posts);
    }
}
