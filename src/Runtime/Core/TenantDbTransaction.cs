using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace TenantDbGuard.Core;

/// <summary>A transaction of a <see cref="TenantDbConnection"/>, on the lease it was begun on.</summary>
internal sealed class TenantDbTransaction : DbTransaction
{
    private readonly TenantDbConnection _connection;

    public TenantDbTransaction(TenantDbConnection connection, MySqlTransaction inner)
    {
        _connection = connection;
        Inner = inner;
    }

    public MySqlTransaction Inner { get; }

    public override IsolationLevel IsolationLevel => Inner.IsolationLevel;

    public override bool SupportsSavepoints => Inner.SupportsSavepoints;

    protected override DbConnection? DbConnection => Inner.Connection is null ? null : _connection;

    public override void Commit() => Inner.Commit();

    public override Task CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Inner.CommitAsync(CancellationToken.None);
    }

    public override void Rollback() => Inner.Rollback();

    public override Task RollbackAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Inner.RollbackAsync(CancellationToken.None);
    }

    public override void Save(string savepointName) => Inner.Save(savepointName);

    public override Task SaveAsync(string savepointName, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Inner.SaveAsync(savepointName, CancellationToken.None);
    }

    public override void Rollback(string savepointName) => Inner.Rollback(savepointName);

    public override Task RollbackAsync(string savepointName, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Inner.RollbackAsync(savepointName, CancellationToken.None);
    }

    public override void Release(string savepointName) => Inner.Release(savepointName);

    public override Task ReleaseAsync(string savepointName, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Inner.ReleaseAsync(savepointName, CancellationToken.None);
    }

    public override ValueTask DisposeAsync() => Inner.DisposeAsync();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
