// A Hangfire-style job storage on MySQL: the storage hands out connections (fresh, or the one it was given), jobs are
// fetched with a connection and a transaction that the fetched job owns, a distributed lock keeps its connection, and
// the usual UseConnection / UseTransaction helpers release what they open.
using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Threading;
using Dapper;
using MySqlConnector;

namespace Corpus.JobStorage;

public sealed class MySqlJobStorage
{
    private readonly string _connectionString;
    private readonly MySqlConnection? _existingConnection;

    public MySqlJobStorage(string connectionString, MySqlConnection? existingConnection = null)
    {
        _connectionString = connectionString;
        _existingConnection = existingConnection;
    }

    // shape clean: a helper that returns either the storage's own connection or a fresh one (not an acquisition)
    internal MySqlConnection CreateAndOpenConnection()
    {
        if (_existingConnection is not null)
        {
            return _existingConnection;
        }

        var connection = new MySqlConnection(_connectionString);
        connection.Open();
        return connection;
    }

    // shape clean: a release helper that gives back only what the storage did not receive
    internal void ReleaseConnection(IDbConnection? connection)
    {
        if (connection is not null && !ReferenceEquals(connection, _existingConnection))
        {
            connection.Dispose();
        }
    }

    // shape clean: UseConnection releases through the helper in finally
    internal T UseConnection<T>(Func<MySqlConnection, T> func)
    {
        MySqlConnection? connection = null;
        try
        {
            connection = CreateAndOpenConnection();
            return func(connection);
        }
        finally
        {
            ReleaseConnection(connection);
        }
    }

    // shape clean: UseTransaction opens its own connection with a using and commits
    internal void UseTransaction(Action<MySqlConnection, MySqlTransaction> action, IsolationLevel isolationLevel = IsolationLevel.ReadCommitted)
    {
        using var connection = new MySqlConnection(_connectionString);
        connection.Open();
        using var transaction = connection.BeginTransaction(isolationLevel);
        action(connection, transaction);
        transaction.Commit();
    }

    // shape leak: a fresh connection per queue poll, disposed only when a job was found
    public FetchedJob? TryFetch(string queue)
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open(); // expect TDG001: 'connection' is not released on the path that returns at line @+9
        var transaction = connection.BeginTransaction();
        var id = connection.ExecuteScalar<long?>(
            "select Id from JobQueue where Queue = @queue and FetchedAt is null limit 1 for update",
            new { queue },
            transaction);
        if (id is null)
        {
            transaction.Rollback();
            return null;
        }

        return new FetchedJob(connection, transaction, id.Value);
    }

    // shape clean: the same poll, with the connection given back when nothing was found or the query failed
    public FetchedJob? TryFetchSafely(string queue)
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open();
        MySqlTransaction? transaction = null;
        try
        {
            transaction = connection.BeginTransaction();
            var id = connection.ExecuteScalar<long?>(
                "select Id from JobQueue where Queue = @queue and FetchedAt is null limit 1 for update",
                new { queue },
                transaction);
            if (id is not null)
            {
                return new FetchedJob(connection, transaction, id.Value);
            }

            transaction.Rollback();
        }
        catch
        {
            transaction?.Dispose();
            connection.Dispose();
            throw;
        }

        try
        {
            transaction.Dispose();
        }
        finally
        {
            connection.Dispose();
        }

        return null;
    }

    // shape leak: a counter that forgets the helper's release when the query throws (the helper's connection is fresh here)
    public long CountEnqueued(string queue)
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open(); // expect TDG001: 'connection' is not released if an exception is thrown at line @+1
        var count = connection.ExecuteScalar<long>("select count(*) from JobQueue where Queue = @queue", new { queue });
        connection.Close();
        return count;
    }

    // shape clean: a monitoring query through UseConnection and a lambda
    public IReadOnlyList<string> Queues() =>
        UseConnection(connection => connection.Query<string>("select distinct Queue from JobQueue").AsList());
}

/// <summary>A fetched job owns the connection and the transaction that hold its queue row.</summary>
public sealed class FetchedJob : IDisposable
{
    private readonly MySqlConnection _connection;
    private readonly MySqlTransaction _transaction;

    public FetchedJob(MySqlConnection connection, MySqlTransaction transaction, long id)
    {
        _connection = connection;
        _transaction = transaction;
        Id = id;
    }

    public long Id { get; }

    public void RemoveFromQueue() => _connection.Execute("delete from JobQueue where Id = @Id", new { Id }, _transaction);

    // shape clean: the fetched job disposes the transaction, then the connection in finally
    public void Dispose()
    {
        try
        {
            _transaction.Dispose();
        }
        finally
        {
            _connection.Dispose();
        }
    }
}

// shape leak: a distributed lock that opens its own connection and releases it only when the lock query succeeds
public sealed class MySqlDistributedLock : IDisposable
{
    private readonly MySqlConnection _connection; // expect TDG005: 'MySqlDistributedLock' owns the connection in '_connection' but its constructor does not release it if an exception is thrown at line @+8
    private readonly string _resource;

    public MySqlDistributedLock(string connectionString, string resource, TimeSpan timeout)
    {
        _resource = resource;
        _connection = new MySqlConnection(connectionString);
        _connection.Open();
        var acquired = _connection.ExecuteScalar<int>("select get_lock(@resource, @timeout)", new { resource, timeout = (int)timeout.TotalSeconds });
        if (acquired != 1)
        {
            throw new TimeoutException("Could not acquire the lock on " + resource);
        }
    }

    public void Dispose()
    {
        try
        {
            _connection.Execute("select release_lock(@resource)", new { resource = _resource });
        }
        finally
        {
            _connection.Dispose();
        }
    }
}

// shape clean: the same lock, closing its connection before the constructor throws
public sealed class SafeDistributedLock : IDisposable
{
    private readonly MySqlConnection _connection;

    public SafeDistributedLock(string connectionString, string resource)
    {
        _connection = new MySqlConnection(connectionString);
        try
        {
            _connection.Open();
            if (_connection.ExecuteScalar<int>("select get_lock(@resource, 5)", new { resource }) != 1)
            {
                throw new TimeoutException("Could not acquire the lock on " + resource);
            }
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    public void Dispose() => _connection.Dispose();
}
