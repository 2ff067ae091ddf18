using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace ValidCode;

/// <summary>A repository over any ADO.NET provider; the factory makes a closed connection.</summary>
public sealed class GenericRepository<TConnection>(Func<TConnection> connect)
    where TConnection : DbConnection
{
    public async Task<IReadOnlyList<T>> ListAsync<T>(string sql, CancellationToken ct)
    {
        await using var connection = connect();
        await connection.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<T>(new CommandDefinition(sql, cancellationToken: ct)).ConfigureAwait(false))
            .ToList();
    }

    public int Execute(string sql, object? parameters = null)
    {
        using var connection = connect();
        connection.Open();
        return connection.Execute(sql, parameters);
    }
}

/// <summary>Code written against <see cref="DbDataSource"/> rather than a provider's type.</summary>
public sealed class ProviderNeutralQueries(DbDataSource dataSource)
{
    public async Task<object?> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask<int> CountAsync(string table, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT COUNT(*) FROM " + table);
        var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<T> WithConnectionAsync<T>(
        DbDataSource source, Func<DbConnection, Task<T>> work, CancellationToken ct)
    {
        var connection = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await work(connection).ConfigureAwait(false);
        }
    }
}

public static class DataSourceExtensions
{
    public static async Task<long> CountRowsAsync(this MySqlDataSource dataSource, string table, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM " + table).ConfigureAwait(false);
    }

    public static bool TryPing(this MySqlDataSource dataSource)
    {
        try
        {
            using var connection = dataSource.OpenConnection();
            return connection.Ping();
        }
        catch (MySqlException)
        {
            return false;
        }
    }
}
