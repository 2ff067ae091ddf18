using System;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>
/// Reads from a tenant's replica, falling back to its primary when the replica cannot be reached; whichever connection
/// was opened is disposed once, through the null-coalescing choice of the two.
/// </summary>
public sealed class ReplicaFallback
{
    private readonly MySqlDataSource _replica;
    private readonly MySqlDataSource _primary;

    public ReplicaFallback(MySqlDataSource replica, MySqlDataSource primary)
    {
        _replica = replica;
        _primary = primary;
    }

    public async Task<long> CountOrdersAsync(CancellationToken cancellationToken)
    {
        MySqlConnection? replica = null;
        MySqlConnection? primary = null;
        try
        {
            try
            {
                replica = await _replica.OpenConnectionAsync(cancellationToken);
            }
            catch (MySqlException)
            {
                primary = await _primary.OpenConnectionAsync(cancellationToken);
            }

            return await (replica ?? primary)!.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
        }
        finally
        {
            (replica ?? primary)?.Dispose();
        }
    }

    public long CountCustomers(bool preferPrimary)
    {
        MySqlConnection? replica = null;
        MySqlConnection? primary = null;
        if (preferPrimary)
        {
            primary = _primary.OpenConnection();
        }
        else
        {
            replica = _replica.OpenConnection();
        }

        try
        {
            return (replica ?? primary)!.ExecuteScalar<long>("SELECT COUNT(*) FROM customers");
        }
        finally
        {
            if (replica is null)
            {
                primary!.Dispose();
            }
            else
            {
                replica.Dispose();
            }
        }
    }
}
