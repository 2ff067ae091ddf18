// Dapper-style repositories: a connection factory registered in DI, repositories that create a connection per call,
// multi-mapping, QueryMultiple grids, ExecuteReader handed to the caller, and bulk work in a transaction.
using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace Corpus.Dapper;

public interface IDbConnectionFactory
{
    MySqlConnection Create();
}

public sealed class MySqlConnectionFactory : IDbConnectionFactory
{
    private readonly string _connectionString;

    public MySqlConnectionFactory(string connectionString) => _connectionString = connectionString;

    // shape clean: a factory that hands out a closed connection (Dapper opens and closes it per call)
    public MySqlConnection Create() => new MySqlConnection(_connectionString);

    // shape clean: a factory method that opens and returns: its callers own the connection
    public async Task<MySqlConnection> CreateOpenAsync(CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}

public sealed record Customer(int Id, string Name, string Email);

public sealed record Order(int Id, int CustomerId, decimal Total);

public sealed class CustomerRepository
{
    private readonly IDbConnectionFactory _factory;
    private readonly MySqlConnectionFactory _openFactory;

    public CustomerRepository(IDbConnectionFactory factory, MySqlConnectionFactory openFactory)
    {
        _factory = factory;
        _openFactory = openFactory;
    }

    // shape clean: a closed connection in a using; Dapper opens it for the query
    public async Task<Customer?> FindAsync(int id)
    {
        using var connection = _factory.Create();
        return await connection.QuerySingleOrDefaultAsync<Customer>("select Id, Name, Email from Customer where Id = @id", new { id });
    }

    // shape leak: a connection from the helper that opens, with an early return before the dispose
    public async Task<IReadOnlyList<Order>> OrdersAsync(int customerId, CancellationToken cancellationToken)
    {
        var connection = await _openFactory.CreateOpenAsync(cancellationToken); // expect TDG001: 'connection' from CreateOpenAsync() is not released on the path that returns at line @+4
        var exists = await connection.ExecuteScalarAsync<bool>("select exists(select 1 from Customer where Id = @customerId)", new { customerId });
        if (!exists)
        {
            return Array.Empty<Order>();
        }

        var orders = (await connection.QueryAsync<Order>("select Id, CustomerId, Total from `Order` where CustomerId = @customerId", new { customerId })).ToList();
        await connection.DisposeAsync();
        return orders;
    }

    // shape clean: the helper's connection in an await using, multi-mapping
    public async Task<IReadOnlyList<(Customer Customer, Order Order)>> CustomerOrdersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _openFactory.CreateOpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Customer, Order, (Customer, Order)>(
            "select c.Id, c.Name, c.Email, o.Id, o.CustomerId, o.Total from Customer c join `Order` o on o.CustomerId = c.Id",
            (customer, order) => (customer, order));
        return rows.ToList();
    }

    // shape clean: QueryMultiple grids disposed with the connection
    public async Task<(Customer? Customer, IReadOnlyList<Order> Orders)> DetailsAsync(int id, CancellationToken cancellationToken)
    {
        await using var connection = await _openFactory.CreateOpenAsync(cancellationToken);
        using var grid = await connection.QueryMultipleAsync("select Id, Name, Email from Customer where Id = @id; select Id, CustomerId, Total from `Order` where CustomerId = @id", new { id });
        var customer = await grid.ReadSingleOrDefaultAsync<Customer>();
        var orders = (await grid.ReadAsync<Order>()).ToList();
        return (customer, orders);
    }

    // shape clean: a Dapper reader on a connection the method never opens: the reader closes it, and the reader is returned
    public async Task<DbDataReader> ExportAsync()
    {
        var connection = _factory.Create();
        return await connection.ExecuteReaderAsync("select Id, Name, Email from Customer");
    }

    // shape leak: a Dapper reader on a connection Dapper opened, read and dropped without disposing
    public int CountWithReader()
    {
        var connection = _factory.Create();
        var reader = connection.ExecuteReader("select Id from Customer"); // expect TDG001: 'reader' is not released on the path that returns at line @+7
        var count = 0;
        while (reader.Read())
        {
            count++;
        }

        return count;
    }

    // shape leak: a bulk update whose transaction commits, but the connection from the helper is never disposed
    public async Task RenameAllAsync(IEnumerable<(int Id, string Name)> renames, CancellationToken cancellationToken)
    {
        var connection = await _openFactory.CreateOpenAsync(cancellationToken); // expect TDG001: 'connection' from CreateOpenAsync() is not released on the path that leaves the method after line @+7
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var (id, name) in renames)
        {
            await connection.ExecuteAsync("update Customer set Name = @name where Id = @id", new { id, name }, transaction);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}

public sealed class ReportQueries
{
    private readonly string _connectionString;

    public ReportQueries(string connectionString) => _connectionString = connectionString;

    // shape clean: an opened connection handed to the caller inside a closing reader
    public DbDataReader OpenReport(string sql)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            connection.Open();
            var command = new MySqlCommand(sql, connection);
            return command.ExecuteReader(CommandBehavior.CloseConnection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    // shape leak: the closing reader is created and read, and an exception in the loop leaves it open
    public decimal Total(string sql)
    {
        var connection = new MySqlConnection(_connectionString);
        connection.Open(); // expect TDG001: 'connection' is not released if an exception is thrown at line @+1
        var command = new MySqlCommand(sql, connection);
        var reader = command.ExecuteReader(CommandBehavior.CloseConnection);
        decimal total = 0;
        while (reader.Read())
        {
            total += reader.GetDecimal(0);
        }

        reader.Dispose();
        return total;
    }

    // shape clean: the report's reader consumed with a using
    public decimal SumReport(string sql)
    {
        using var reader = OpenReport(sql);
        decimal total = 0;
        while (reader.Read())
        {
            total += reader.GetDecimal(0);
        }

        return total;
    }
}
