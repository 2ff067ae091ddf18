// A DbUp-style migrator: a connection manager that opens one connection per upgrade and hands out an IDisposable
// that closes it, script executors that run each script in a transaction, and a journal that reads what ran.
using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using MySqlConnector;

namespace Corpus.Migrations;

public interface IScriptLog
{
    void Write(string message);
}

/// <summary>Closes the upgrade's connection when the operation ends.</summary>
public sealed class ConnectionScope : IDisposable
{
    private readonly MySqlConnectionManager _manager;

    public ConnectionScope(MySqlConnectionManager manager) => _manager = manager;

    public void Dispose() => _manager.CloseUpgradeConnection();
}

public sealed class MySqlConnectionManager
{
    private readonly string _connectionString;
    private MySqlConnection? _upgradeConnection;

    public MySqlConnectionManager(string connectionString) => _connectionString = connectionString;

    // shape clean: the connection of the upgrade is kept in a field until the returned scope closes it
    public IDisposable OperationStarting()
    {
        _upgradeConnection = new MySqlConnection(_connectionString);
        _upgradeConnection.Open();
        return new ConnectionScope(this);
    }

    internal void CloseUpgradeConnection()
    {
        _upgradeConnection?.Dispose();
        _upgradeConnection = null;
    }

    // shape clean: a command factory over the open upgrade connection (borrowed)
    public T ExecuteCommandsWithManagedConnection<T>(Func<Func<DbCommand>, T> actionWithResult)
    {
        var connection = _upgradeConnection ?? throw new InvalidOperationException("No upgrade in progress.");
        return actionWithResult(() => connection.CreateCommand());
    }

    // shape leak: a probe that opens its own connection and returns early when the database is missing
    public bool TryConnect(out string? error)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            connection.Open(); // expect TDG001: 'connection' is not released on the path that returns at line @+5
            using var command = connection.CreateCommand();
            command.CommandText = "select 1";
            command.ExecuteScalar();
            error = null;
            return true;
        }
        catch (MySqlException ex)
        {
            error = ex.Message;
            connection.Dispose();
            return false;
        }
    }

    // shape clean: the same probe with a using declaration
    public bool CanConnect()
    {
        using var connection = new MySqlConnection(_connectionString);
        try
        {
            connection.Open();
            return true;
        }
        catch (MySqlException)
        {
            return false;
        }
    }
}

public sealed class ScriptExecutor
{
    private readonly string _connectionString;
    private readonly IScriptLog _log;

    public ScriptExecutor(string connectionString, IScriptLog log)
    {
        _connectionString = connectionString;
        _log = log;
    }

    // shape clean: each script in its own transaction, connection in a using statement
    public void Execute(IEnumerable<(string Name, string Sql)> scripts)
    {
        using (var connection = new MySqlConnection(_connectionString))
        {
            connection.Open();
            foreach (var (name, sql) in scripts)
            {
                using var transaction = connection.BeginTransaction();
                using var command = new MySqlCommand(sql, connection, transaction);
                _log.Write("Executing " + name);
                command.ExecuteNonQuery();
                transaction.Commit();
            }
        }
    }

    // shape leak: one connection per script, opened inside the loop, disposed after the loop
    public void ExecuteEach(IEnumerable<string> scripts)
    {
        MySqlConnection? connection = null;
        foreach (var sql in scripts)
        {
            connection = new MySqlConnection(_connectionString);
            connection.Open(); // expect TDG001: 'connection' is not released when 'connection' is overwritten at line @-1
            using var command = new MySqlCommand(sql, connection);
            command.ExecuteNonQuery();
        }

        connection?.Dispose();
    }

    // shape leak: the journal read closes the connection only when the table exists
    public IReadOnlyList<string> ExecutedScripts()
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open(); // expect TDG001: 'connection' is not released on the path that returns at line @+5
        using var command = new MySqlCommand("select count(*) from information_schema.tables where table_name = 'schemaversions'", connection);
        var exists = Convert.ToInt32(command.ExecuteScalar()) > 0;
        if (!exists)
        {
            return Array.Empty<string>();
        }

        var names = new List<string>();
        using (var read = new MySqlCommand("select ScriptName from schemaversions order by Id", connection))
        using (var reader = read.ExecuteReader())
        {
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        connection.Dispose();
        return names;
    }
}
