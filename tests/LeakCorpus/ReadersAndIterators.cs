// Streaming rows: iterators that hold a connection across yield (sync and async), enumerators taken by hand, readers
// that own the connection, and a reader handed to a row mapper.
using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using MySqlConnector;

namespace Corpus.Streaming;

public sealed class CustomerStream
{
    private readonly MySqlDataSource _dataSource;

    public CustomerStream(MySqlDataSource dataSource) => _dataSource = dataSource;

    // shape clean: an iterator that holds its connection across yield in a using
    public IEnumerable<string> Names()
    {
        using var connection = _dataSource.OpenConnection();
        using var command = new MySqlCommand("select Name from Customer order by Id", connection);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return reader.GetString(0);
        }
    }

    // shape clean: an async stream in await using, consumed by await foreach
    public async IAsyncEnumerable<int> IdsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new MySqlCommand("select Id from Customer order by Id", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader.GetInt32(0);
        }
    }

    // shape clean: consumers of the streams with foreach and await foreach
    public async Task<int> CountBothAsync(CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var _ in Names())
        {
            count++;
        }

        await foreach (var _ in IdsAsync(cancellationToken))
        {
            count++;
        }

        return count;
    }

    // shape leak: the first name taken with an enumerator by hand that is never disposed
    public string? FirstName()
    {
        var enumerator = Names().GetEnumerator(); // expect TDG001: 'enumerator' from Names().GetEnumerator() is not released on the path that returns at line @+1
        return enumerator.MoveNext() ? enumerator.Current : null;
    }

    // shape clean: the same with the enumerator in a using
    public string? FirstNameSafely()
    {
        using var enumerator = Names().GetEnumerator();
        return enumerator.MoveNext() ? enumerator.Current : null;
    }

    // shape leak: an async enumerator by hand, disposed only when a row was read
    public async Task<int?> FirstIdAsync(CancellationToken cancellationToken)
    {
        var enumerator = IdsAsync(cancellationToken).GetAsyncEnumerator(cancellationToken); // expect TDG001: 'enumerator' from IdsAsync().GetAsyncEnumerator() is not released on the path that returns at line @+3
        if (!await enumerator.MoveNextAsync())
        {
            return null;
        }

        var first = enumerator.Current;
        await enumerator.DisposeAsync();
        return first;
    }

    // shape leak: an iterator that opens a connection and releases it after the loop, without finally
    public IEnumerable<int> Batches(int size)
    {
        var connection = _dataSource.OpenConnection(); // expect TDG001: 'connection' is not released if an exception is thrown at line @+1
        var command = new MySqlCommand("select Id from Customer", connection);
        var reader = command.ExecuteReader();
        var batch = 0;
        while (reader.Read())
        {
            if (++batch % size == 0)
            {
                yield return batch;
            }
        }

        reader.Dispose();
        connection.Dispose();
    }
}

public static class RowMapper
{
    // shape clean: a reader passed to a mapper that only reads it
    public static List<T> Map<T>(DbDataReader reader, Func<DbDataReader, T> map)
    {
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(map(reader));
        }

        return rows;
    }
}

public sealed class ReaderQueries
{
    private readonly string _connectionString;

    public ReaderQueries(string connectionString) => _connectionString = connectionString;

    // shape clean: the closing reader owns the connection and is disposed by a using
    public List<string> Emails()
    {
        var connection = new MySqlConnection(_connectionString);
        MySqlDataReader reader;
        try
        {
            connection.Open();
            reader = new MySqlCommand("select Email from Customer", connection).ExecuteReader(CommandBehavior.CloseConnection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        using (reader)
        {
            return RowMapper.Map(reader, r => r.GetString(0));
        }
    }

    // shape leak: a reader without CloseConnection: disposing it does not close the connection
    public List<string> Names()
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open(); // expect TDG001: 'connection' is not released on the path that returns at line @+2
        using var reader = new MySqlCommand("select Name from Customer", connection).ExecuteReader();
        return RowMapper.Map(reader, r => r.GetString(0));
    }

    // shape leak: the catch returns an empty list after the closing reader failed, without closing the connection
    public async Task<List<string>> CitiesAsync(CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that returns at line @+6
            await using var reader = await new MySqlCommand("select City from Address", connection).ExecuteReaderAsync(CommandBehavior.CloseConnection, cancellationToken);
            return RowMapper.Map(reader, r => r.GetString(0));
        }
        catch (MySqlException)
        {
            return new List<string>();
        }
    }
}
