// Units of work and sessions: a lazily opened connection kept in a field, commit and rollback, a scope that shares the
// unit of work's connection, a session disposed through the Dispose(bool) pattern, and owners that get it wrong.
using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;

namespace Corpus.UnitsOfWork;

// shape clean: a unit of work that opens lazily with ??= and disposes transaction then connection in finally
public sealed class UnitOfWork : IAsyncDisposable
{
    private readonly MySqlDataSource _dataSource;
    private MySqlConnection? _connection;
    private MySqlTransaction? _transaction;

    public UnitOfWork(MySqlDataSource dataSource) => _dataSource = dataSource;

    public async Task<MySqlConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        _connection ??= await _dataSource.OpenConnectionAsync(cancellationToken);
        _transaction ??= await _connection.BeginTransactionAsync(cancellationToken);
        return _connection;
    }

    public MySqlTransaction? Transaction => _transaction;

    public Task CommitAsync(CancellationToken cancellationToken) => _transaction?.CommitAsync(cancellationToken) ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_transaction is not null)
            {
                await _transaction.DisposeAsync();
            }
        }
        finally
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }
        }
    }
}

public sealed class InvoiceRepository
{
    private readonly UnitOfWork _unitOfWork;

    public InvoiceRepository(UnitOfWork unitOfWork) => _unitOfWork = unitOfWork;

    // shape clean: a repository that uses the unit of work's connection (borrowed) without releasing it
    public async Task AddAsync(int customerId, decimal total, CancellationToken cancellationToken)
    {
        var connection = await _unitOfWork.ConnectionAsync(cancellationToken);
        await connection.ExecuteAsync("insert into Invoice (CustomerId, Total) values (@customerId, @total)", new { customerId, total }, _unitOfWork.Transaction);
    }

    // shape clean: a private helper that returns the unit of work's cached connection, used without a release
    private Task<MySqlConnection> GetConnection(CancellationToken cancellationToken) => _unitOfWork.ConnectionAsync(cancellationToken);

    public async Task<decimal> TotalAsync(int customerId, CancellationToken cancellationToken)
    {
        var connection = await GetConnection(cancellationToken);
        return await connection.ExecuteScalarAsync<decimal>("select coalesce(sum(Total), 0) from Invoice where CustomerId = @customerId", new { customerId }, _unitOfWork.Transaction);
    }
}

// shape leak: a session that disposes the transaction first with nothing to protect the connection's release
public sealed class ReportingSession : IDisposable
{
    private readonly MySqlConnection _connection; // expect TDG005: 'ReportingSession' owns the connection in '_connection' but Dispose does not release it if an exception is thrown at line @+11
    private MySqlTransaction? _transaction;

    public ReportingSession(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public MySqlTransaction Begin() => _transaction = _connection.BeginTransaction(IsolationLevel.RepeatableRead);

    public void Dispose()
    {
        if (_transaction is not null)
        {
            _transaction.Rollback();
            _transaction.Dispose();
        }

        _connection.Dispose();
    }
}

// shape clean: the Dispose(bool) pattern with a disposed flag
public class TenantSession : IDisposable
{
    private readonly MySqlConnection _connection;
    private bool _disposed;

    public TenantSession(string connectionString)
    {
        _connection = new MySqlConnection(connectionString);
        _connection.Open();
    }

    public int Execute(string sql) => _connection.Execute(sql);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        if (disposing)
        {
            _connection.Dispose();
        }

        _disposed = true;
    }
}

// shape leak: a scope with a nesting counter that releases only when the outermost scope ends
public sealed class SharedConnectionScope : IDisposable
{
    private readonly MySqlConnection _connection; // expect TDG005: 'SharedConnectionScope' owns the connection in '_connection' but Dispose does not release it on the path that leaves at line @+13
    private int _nesting = 1;

    public SharedConnectionScope(MySqlDataSource dataSource) => _connection = dataSource.OpenConnection();

    public SharedConnectionScope Nest()
    {
        Interlocked.Increment(ref _nesting);
        return this;
    }

    public void Dispose()
    {
        if (Interlocked.Decrement(ref _nesting) == 0)
        {
            _connection.Dispose();
        }
    }
}

// shape leak: an importer that keeps an opened connection and is not disposable at all
public sealed class CustomerImporter
{
    private readonly MySqlConnection _connection; // expect TDG005: 'CustomerImporter' owns the connection in '_connection' but is not disposable, so nothing can release it

    public CustomerImporter(string connectionString)
    {
        _connection = new MySqlConnection(connectionString);
        _connection.Open();
    }

    public int Import(string name) => _connection.Execute("insert into Customer (Name) values (@name)", new { name });
}

// shape clean: a session that is given its connection by the caller (borrowed, not owned)
public sealed class BorrowedSession
{
    private readonly MySqlConnection _connection;

    public BorrowedSession(MySqlConnection connection) => _connection = connection;

    public int Count() => _connection.ExecuteScalar<int>("select count(*) from Customer");
}

// shape clean: an owner whose ownership depends on a readonly flag set by the constructor
public sealed class OptionalOwner : IDisposable
{
    private readonly MySqlConnection _connection;
    private readonly bool _ownsConnection;

    public OptionalOwner(MySqlDataSource dataSource, MySqlConnection? shared)
    {
        if (shared is null)
        {
            _connection = dataSource.OpenConnection();
            _ownsConnection = true;
        }
        else
        {
            _connection = shared;
        }
    }

    public void Dispose()
    {
        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }
}
