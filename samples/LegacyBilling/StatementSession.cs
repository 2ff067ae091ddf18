using System;
using System.Threading;
using Dapper;
using MySqlConnector;

namespace LegacyBilling;

/// <summary>A statement run that keeps one connection for its lifetime and gives it back when disposed.</summary>
public sealed class StatementSession : IDisposable
{
    private readonly MySqlConnection _connection;

    // The session owns the connection from here on; if the setup fails, nobody does.
    public StatementSession(string connectionString, string tenant)
    {
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        connection.ChangeDatabase(tenant);
        connection.Execute("SET @statement_run = 1");
        _connection = connection;
    }

    public decimal Total() => _connection.ExecuteScalar<decimal>("SELECT COALESCE(SUM(total), 0) FROM invoices");

    public void Dispose() => _connection.Dispose();
}

/// <summary>A cache of one lookup connection per process, published with Interlocked: not a leak, and no fix.</summary>
public sealed class RateLookup
{
    private MySqlConnection? _shared;

    public decimal Rate(string connectionString)
    {
        var connection = new MySqlConnection(connectionString);
        connection.Open();
        if (Interlocked.CompareExchange(ref _shared, connection, null) != null)
        {
            connection.Dispose();
        }

        return _shared!.ExecuteScalar<decimal>("SELECT 0.2");
    }

    public void Reset() => Interlocked.Exchange(ref _shared, null)?.Dispose();
}
