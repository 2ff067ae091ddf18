using System;
using System.Data;
using System.Threading;

namespace TenantDbGuard.Core;

/// <summary>
/// Notices a lease that becomes unreachable without being given back. The lease holds it, and so does the lease's
/// connection object (through its <c>StateChange</c> event), so it is collected only when code can reach neither:
/// then its finalizer hands the lease's physical connection to the broker, which closes it and returns the budget
/// slot and the tenant's cap. A lease that is given back disarms it.
/// </summary>
internal sealed class LeaseSentinel
{
    private ConnectionBroker? _broker;
    private readonly PhysicalConnection _connection;
    private readonly string _tenantKey;
    private readonly bool _cancellable;
    private readonly long _leakId;

    public LeaseSentinel(ConnectionBroker broker, PhysicalConnection connection, string tenantKey, bool cancellable, long leakId)
    {
        _broker = broker;
        _connection = connection;
        _tenantKey = tenantKey;
        _cancellable = cancellable;
        _leakId = leakId;
    }

    /// <summary>The handler that ties this sentinel's lifetime to the connection object's.</summary>
    public void OnStateChange(object? sender, StateChangeEventArgs e)
    {
    }

    /// <summary>The lease was given back: nothing to reclaim.</summary>
    public void Disarm()
    {
        Volatile.Write(ref _broker, null);
        GC.SuppressFinalize(this);
    }

    ~LeaseSentinel()
    {
        var broker = Interlocked.Exchange(ref _broker, null);
        if (broker is not null)
        {
            // Nothing slow on the finalizer thread.
            ThreadPool.UnsafeQueueUserWorkItem(
                static state => state.Broker.Reclaim(state.Connection, state.TenantKey, state.Cancellable, state.LeakId),
                (Broker: broker, Connection: _connection, TenantKey: _tenantKey, Cancellable: _cancellable, LeakId: _leakId),
                preferLocal: false);
        }
    }
}
