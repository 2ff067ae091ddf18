// Newer C# in data-access code: switch expressions and statements, pattern matching on connections, local functions,
// using declarations in odd places, records with 'with', tuples, target-typed new and lambdas handed to helpers.
using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Dapper;
using MySqlConnector;
using Prelude;

namespace Corpus.Modern;

public enum Region
{
    Europe,
    America,
    Asia,
}

public sealed record TenantContext(ConnectionLease Lease, string Tenant);

public sealed class RegionalStore
{
    private readonly MySqlDataSource _europe;
    private readonly MySqlDataSource _america;
    private readonly LeasePool _leases;

    public RegionalStore(MySqlDataSource europe, MySqlDataSource america, LeasePool leases)
    {
        _europe = europe;
        _america = america;
        _leases = leases;
    }

    // shape clean: a switch expression picks the data source; the connection is in an await using
    public async Task<int> CountAsync(Region region, CancellationToken cancellationToken)
    {
        var dataSource = region switch
        {
            Region.Europe => _europe,
            Region.America => _america,
            _ => throw new ArgumentOutOfRangeException(nameof(region)),
        };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>("select count(*) from Customer");
    }

    // shape leak: a switch statement whose default case returns before the release
    public async Task<string> DescribeAsync(Region region, CancellationToken cancellationToken)
    {
        var connection = await _europe.OpenConnectionAsync(cancellationToken); // expect TDG001: 'connection' is not released on the path that returns at line @+8
        switch (region)
        {
            case Region.Europe:
                var name = await connection.ExecuteScalarAsync<string>("select Name from Region where Code = 'EU'");
                await connection.DisposeAsync();
                return name ?? "";
            default:
                return region.ToString();
        }
    }

    // shape clean: a connection opened only when the pattern matches a concrete type the method created
    public int Execute(DbConnection? given, string sql, string connectionString)
    {
        if (given is MySqlConnection borrowed)
        {
            return borrowed.Execute(sql);
        }

        using var own = new MySqlConnection(connectionString);
        own.Open();
        return own.Execute(sql);
    }

    // shape clean: opening a connection the caller gave, seen through a pattern variable (the caller releases it)
    public async Task EnsureOpenAsync(IDbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is DbConnection db && db.State != ConnectionState.Open)
        {
            await db.OpenAsync(cancellationToken);
        }
    }

    // shape clean: a local function called in finally releases the lease
    public async Task<int> TouchAsync(string tenant)
    {
        var lease = await _leases.GetConnectionAsync(tenant);
        try
        {
            return await lease.ExecuteAsync("update Tenant set Touched = now()");
        }
        finally
        {
            Release();
        }

        void Release() => lease.Dispose();
    }

    // shape leak: a local function that releases only when asked to
    public int Reset(string tenant, bool keep)
    {
        var lease = _leases.GetConnection(); // expect TDG001: 'lease' is not released on the path that returns at line @+3
        var rows = lease.Execute("delete from Cache where Tenant = '" + tenant + "'");
        ReleaseUnless(keep);
        return rows;

        void ReleaseUnless(bool skip)
        {
            if (!skip)
            {
                lease.Dispose();
            }
        }
    }

    // shape clean: a record carries the lease and the caller disposes it through the record
    public async Task<int> WithContextAsync(string tenant)
    {
        var context = new TenantContext(await _leases.GetConnectionAsync(tenant), tenant);
        try
        {
            return await context.Lease.ExecuteAsync("select count(*) from Customer");
        }
        finally
        {
            await context.Lease.DisposeAsync();
        }
    }

    // shape leak: a copy of the context with a second lease that nobody disposes
    public async Task<int> CompareAsync(string tenant, string other)
    {
        var context = new TenantContext(await _leases.GetConnectionAsync(tenant), tenant);
        try
        {
            var copy = context with { Lease = await _leases.GetConnectionAsync(other), Tenant = other }; // expect TDG001: 'copy.Lease' is not released on the path that returns at line @+1
            return await context.Lease.ExecuteAsync("select count(*) from Customer") - await copy.Lease.ExecuteAsync("select count(*) from Customer");
        }
        finally
        {
            await context.Lease.DisposeAsync();
        }
    }

    // shape clean: a tuple deconstruction of a lease and a count, disposed with a using statement
    public async Task<int> TupleAsync(string tenant)
    {
        var (lease, attempts) = (await _leases.GetConnectionAsync(tenant), 1);
        await using (lease)
        {
            return await lease.ExecuteAsync("select 1") + attempts;
        }
    }

    // shape leak: a using declaration inside one switch section only; the other section forgets the lease
    public int Run(int mode)
    {
        switch (mode)
        {
            case 0:
            {
                using var lease = _leases.GetConnection();
                return lease.Execute("select 0");
            }

            default:
            {
                var lease = _leases.GetConnection(); // expect TDG001: 'lease' is not released on the path that returns at line @+1
                return lease.Execute("select 1");
            }
        }
    }

    // shape clean: a lambda handed to Task.Run owns and releases its lease
    public Task<int> InBackground(string tenant) => Task.Run(async () =>
    {
        await using var lease = await _leases.GetConnectionAsync(tenant);
        return await lease.ExecuteAsync("call nightly()");
    });

    // shape leak: a lambda handed to Task.Run that forgets its lease when the call throws
    public Task<int> InBackgroundUnsafe(string tenant) => Task.Run(async () =>
    {
        var lease = await _leases.GetConnectionAsync(tenant); // expect TDG001: 'lease' is not released if an exception is thrown at line @+1
        var rows = await lease.ExecuteAsync("call nightly()");
        await lease.DisposeAsync();
        return rows;
    });

    // shape clean: a conditional acquisition; the null path holds nothing
    public int MaybeCount(bool enabled)
    {
        var lease = enabled ? _leases.GetConnection() : null;
        if (lease is null)
        {
            return 0;
        }

        using (lease)
        {
            return lease.Execute("select count(*) from Customer");
        }
    }
}
