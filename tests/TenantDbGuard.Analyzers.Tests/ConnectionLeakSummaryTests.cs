using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// TDG001 across the compilation's own methods: helpers that open and return, out/ref acquisitions, helpers and
/// local functions that release, iterators that hold a connection across <c>yield</c>. Every report states its message.
/// </summary>
public sealed class ConnectionLeakSummaryTests
{
    // ---------------------------------------------------------------- properties whose getters acquire

    private const string OpeningProperties = """
        using System;
        using MySqlConnector;

        static class Db
        {
            public static int Count(this MySqlConnection connection) => 1;
        }

        class Repository
        {
            private readonly string _connectionString = "";
            private MySqlConnection? _cached;

            private MySqlConnection Connection
            {
                get
                {
                    var connection = new MySqlConnection(_connectionString);
                    connection.Open();
                    return connection;
                }
            }

            private MySqlConnection Fresh => Open();

            private MySqlConnection Open()
            {
                var connection = new MySqlConnection(_connectionString);
                connection.Open();
                return connection;
            }

            private MySqlConnection Cached => _cached ??= Open();

            private MySqlConnection Closed => new MySqlConnection(_connectionString);

            public MySqlConnection? Settable { get => Open(); set => _cached = value; }

        """;

    [Fact]
    public Task Property_whose_getter_acquires_is_an_acquisition_for_whoever_reads_it() => Verify.VerifyAnalyzerAsync(OpeningProperties + """
            int Kept(bool early)
            {
                var c = {|#0:Connection|};
                if (early) return 0;
                var n = c.Count();
                c.Dispose();
                return n;
            }

            int Discarded() => {|#1:Connection|}.Count();

            void Statement()
            {
                Console.WriteLine("counting");
                {|#2:this.Fresh|}.Count();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'c' from Connection", "on the path that returns at line 41"),
        Verify.Diagnostic().WithLocation(1).WithArguments("The connection from Connection", "because the result is discarded"),
        Verify.Diagnostic().WithLocation(2).WithArguments("The connection from Fresh", "because the result is discarded"));

    [Fact]
    public Task Property_whose_getter_acquires_read_and_released_or_handed_on_or_one_that_does_not_acquire_is_not_reported() => Verify.VerifyAnalyzerAsync(OpeningProperties + """
            int Using()
            {
                using var c = Connection;
                return c.Count();
            }

            int UsingStatement()
            {
                using (var c = this.Fresh)
                {
                    return c.Count();
                }
            }

            MySqlConnection Returned() => Connection;

            int FromTheCache() => Cached.Count();

            int NeverOpened()
            {
                using var c = Closed;
                return 1;
            }

            void Assigned(MySqlConnection other) => Settable = other;

            string Named() => nameof(Connection);
        }
        """);

    [Fact]
    public Task Property_whose_getter_acquires_gets_no_fix() => NoFixVerifier.VerifyAsync(OpeningProperties + """
            int Kept(bool early)
            {
                var c = [|Connection|];
                if (early) return 0;
                var n = c.Count();
                c.Dispose();
                return n;
            }

            int Discarded() => [|Connection|].Count();
        }
        """);

    // ---------------------------------------------------------------- helpers that return an acquisition

    private const string ReportDb = """
        using System.Data;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class ReportDb
        {
            private readonly string _connectionString;
            private readonly MySqlDataSource _dataSource;

            public ReportDb(string connectionString, MySqlDataSource dataSource)
            {
                _connectionString = connectionString;
                _dataSource = dataSource;
            }

            public MySqlConnection OpenReportConnection()
            {
                var connection = new MySqlConnection(_connectionString);
                connection.Open();
                return connection;
            }

            public async Task<MySqlConnection> OpenReportConnectionAsync(CancellationToken ct)
            {
                var connection = await _dataSource.OpenConnectionAsync(ct);
                return connection;
            }

            public MySqlConnection OpenForTenant(string tenant)
            {
                var connection = OpenReportConnection();
                try
                {
                    connection.ChangeDatabase(tenant);
                    return connection;
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            }
        }

        """;

    [Fact]
    public Task Sync_helper_that_opens_and_returns_is_an_acquisition() => Verify.VerifyAnalyzerAsync(ReportDb + """
        class C
        {
            object M(ReportDb db)
            {
                var conn = {|#0:db.OpenReportConnection()|};
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return cmd.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from OpenReportConnection()", "on the path that returns at line 51"));

    [Fact]
    public Task Helper_that_returns_what_a_helper_declared_after_it_acquires_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            PooledConnection Outer(Pool pool) => Inner(pool);

            PooledConnection Inner(Pool pool) => pool.GetConnection();

            int Run(Pool pool)
            {
                var conn = {|#0:Outer(pool)|};
                return conn.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from Outer()", "on the path that returns at line 12"));

    [Theory]
    [InlineData("public PooledConnection Take() => Lease;")]
    [InlineData("public PooledConnection Take() { var lease = this.Lease; return lease; }")]
    [InlineData("public PooledConnection Take() => Fresh; private PooledConnection Fresh => Lease;")]
    public Task Helper_that_returns_what_an_acquiring_property_gives_is_an_acquisition(string helper) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class Source
        {
            private readonly Pool _pool;

            public Source(Pool pool) => _pool = pool;

            public PooledConnection Lease => _pool.GetConnection();

            {{helper}}
        }

        class C
        {
            int Run(Source source)
            {
                var conn = {|#0:source.Take()|};
                return conn.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from Take()", "on the path that returns at line 19"));

    [Theory]
    [InlineData("Task")]
    [InlineData("ValueTask")]
    public Task Async_helper_named_otherwise_that_returns_an_acquisition_is_an_acquisition(string task) => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async TASK<PooledConnection> RentAsync(Pool pool) => await pool.GetConnectionAsync();

            async Task<int> RunAsync(Pool pool)
            {
                var conn = await {|#0:RentAsync(pool)|};
                return await conn.ExecuteAsync("select 1");
            }
        }
        """.Replace("TASK", task),
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from RentAsync()", "on the path that returns at line 11"));

    [Fact]
    public Task Sync_helper_result_in_using_is_not_reported() => Verify.VerifyAnalyzerAsync(ReportDb + """
        class C
        {
            object M(ReportDb db)
            {
                using var conn = db.OpenReportConnection();
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return cmd.ExecuteScalar();
            }
        }
        """);

    [Fact]
    public Task Async_helper_that_opens_and_returns_is_an_acquisition() => Verify.VerifyAnalyzerAsync(ReportDb + """
        class C
        {
            async Task<object> M(ReportDb db, CancellationToken ct)
            {
                var conn = await {|#0:db.OpenReportConnectionAsync(ct)|};
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                var count = await cmd.ExecuteScalarAsync(ct);
                await conn.DisposeAsync();
                return count;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from OpenReportConnectionAsync()", "if an exception is thrown at line 50"));

    [Fact]
    public Task Async_helper_result_in_await_using_is_not_reported() => Verify.VerifyAnalyzerAsync(ReportDb + """
        class C
        {
            async Task<object> M(ReportDb db, CancellationToken ct)
            {
                await using var conn = await db.OpenReportConnectionAsync(ct);
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return await cmd.ExecuteScalarAsync(ct);
            }
        }
        """);

    [Fact]
    public Task Helper_of_a_helper_is_an_acquisition() => Verify.VerifyAnalyzerAsync(ReportDb + """
        class C
        {
            void M(ReportDb db)
            {
                {|#0:db.OpenForTenant("tenant_1")|};
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("The connection from OpenForTenant()", "because the result is discarded"));

    private static string Chooser(string body) => $$"""
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Shards
        {
            private readonly MySqlDataSource _primary = null!;
            private readonly MySqlDataSource _replica = null!;
            private readonly MySqlConnection _shared = null!;

            {{body}}

            public object Count(int shard)
            {
                var conn = {|#0:Open(shard)|};
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return cmd.ExecuteScalar();
            }
        }
        """;

    [Theory]
    [InlineData("private MySqlConnection Open(int shard) => shard == 1 ? _primary.OpenConnection() : _replica.OpenConnection();")]
    [InlineData("private MySqlConnection Open(int shard) { return shard == 1 ? _primary.OpenConnection() : null!; }")]
    [InlineData("private MySqlConnection Open(int shard) => shard switch { 1 => _primary.OpenConnection(), 2 => (_replica.OpenConnection()), _ => null! };")]
    [InlineData("private MySqlConnection Open(int shard) => shard > 0 ? (shard == 1 ? _primary.OpenConnection() : _replica.OpenConnection()) : _primary.OpenConnection();")]
    [InlineData("private MySqlConnection Open(int shard) => shard == 1 ? _primary.OpenConnection() : (shard == 2 ? null! : null!);")]
    public Task Helper_that_chooses_between_acquisitions_is_an_acquisition(string helper) =>
        Verify.VerifyAnalyzerAsync(Chooser(helper), Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from Open()", "on the path that returns at line 16"));

    [Theory]
    [InlineData("private MySqlConnection Open(int shard) => shard == 1 ? _primary.OpenConnection() : _shared;")]
    [InlineData("private MySqlConnection Open(int shard) => shard switch { 1 => _primary.OpenConnection(), _ => _shared };")]
    [InlineData("private MySqlConnection Open(int shard) => shard == 0 ? _shared : shard == 1 ? _primary.OpenConnection() : _replica.OpenConnection();")]
    public Task Helper_that_may_choose_a_connection_it_keeps_is_not_an_acquisition(string helper) =>
        Verify.VerifyAnalyzerAsync(Chooser(helper).Replace("{|#0:Open(shard)|}", "Open(shard)"));

    [Fact]
    public Task Async_helper_that_chooses_between_awaited_acquisitions_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class Shards
        {
            private readonly MySqlDataSource _primary = null!;
            private readonly MySqlDataSource _replica = null!;

            private async Task<MySqlConnection> OpenAsync(bool primary) =>
                primary ? await _primary.OpenConnectionAsync() : await _replica.OpenConnectionAsync().ConfigureAwait(false);

            public async Task<object?> CountAsync()
            {
                var conn = await {|#0:OpenAsync(true)|};
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return await cmd.ExecuteScalarAsync();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from OpenAsync()", "on the path that returns at line 16"));

    [Fact]
    public Task Helper_that_may_return_a_cached_connection_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class UnitOfWork : System.IDisposable
        {
            private readonly string _connectionString;
            private MySqlConnection _connection;

            public UnitOfWork(string connectionString) => _connectionString = connectionString;

            public MySqlConnection GetConnection()
            {
                if (_connection is null)
                {
                    _connection = new MySqlConnection(_connectionString);
                    _connection.Open();
                }

                return _connection;
            }

            public void Dispose() => _connection?.Dispose();
        }

        class Repository
        {
            private readonly UnitOfWork _unitOfWork;

            public Repository(UnitOfWork unitOfWork) => _unitOfWork = unitOfWork;

            private MySqlConnection GetConnection(UnitOfWork unitOfWork) => unitOfWork.GetConnection();

            public object Count()
            {
                var conn = GetConnection(_unitOfWork);
                using var cmd = new MySqlCommand("select count(*) from invoices", conn);
                return cmd.ExecuteScalar();
            }
        }
        """);

    [Fact]
    public Task Source_pool_that_builds_or_dequeues_a_lease_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Concurrent;
        using Prelude;

        sealed class LocalPool
        {
            private readonly ConcurrentBag<ConnectionLease> _idle = new();

            public ConnectionLease GetConnection() => _idle.TryTake(out var lease) ? lease : new ConnectionLease();
        }

        class C
        {
            int M(LocalPool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                return lease.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from GetConnection()", "on the path that returns at line 16"));

    [Theory]
    [InlineData("ConcurrentQueue<ConnectionLease>", "_idle.TryDequeue(out var lease)")]
    [InlineData("ConcurrentStack<ConnectionLease>", "_idle.TryPop(out var lease)")]
    [InlineData("ConcurrentDictionary<string, ConnectionLease>", "_idle.TryRemove(\"t1\", out var lease)")]
    public Task Source_pool_that_takes_a_lease_out_of_its_idle_set_is_an_acquisition(string idle, string take) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Concurrent;
        using Prelude;

        sealed class LocalPool
        {
            private readonly {{idle}} _idle = new();

            public ConnectionLease GetConnection() => {{take}} ? lease : new ConnectionLease();
        }

        class C
        {
            int M(LocalPool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                return lease.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from GetConnection()", "on the path that returns at line 16"));

    [Theory]
    [InlineData("public ConnectionLease GetConnection() => _current is ConnectionLease lease ? lease : new ConnectionLease();")]
    [InlineData("public ConnectionLease GetConnection() => _byTenant.TryGetValue(\"t1\", out var lease) ? lease : new ConnectionLease();")]
    [InlineData("public ConnectionLease GetConnection() { if (!_idle.TryTake(out var lease)) { lease = _shared; } return lease; }")]
    [InlineData("public ConnectionLease GetConnection() => _byTenant.TryGetValue(\"t1\", out var lease) || _idle.TryTake(out lease) ? lease : new ConnectionLease();")]
    public Task Source_pool_that_may_hand_out_the_lease_it_keeps_is_not_an_acquisition(string getConnection) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Concurrent;
        using Prelude;

        sealed class LocalPool
        {
            private readonly ConcurrentBag<ConnectionLease> _idle = new();
            private readonly ConcurrentDictionary<string, ConnectionLease> _byTenant = new();
            private readonly ConnectionLease _shared = new();
            private object _current;

            {{getConnection}}
        }

        class C
        {
            int M(LocalPool pool)
            {
                var lease = pool.GetConnection();
                return lease.Execute("select 1");
            }
        }
        """);

    [Fact]
    public Task Source_pool_that_builds_a_lease_into_a_ValueTask_is_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        sealed class LocalPool
        {
            public ValueTask<ConnectionLease> GetConnectionAsync() => ValueTask.FromResult(new ConnectionLease());
        }

        class C
        {
            async Task<int> M(LocalPool pool)
            {
                var lease = await {|#0:pool.GetConnectionAsync()|};
                return lease.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from GetConnectionAsync()", "on the path that returns at line 14"));

    [Fact]
    public Task Helper_returning_a_data_source_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Tenants
        {
            private readonly MySqlDataSource _dataSource;

            public Tenants(MySqlDataSource dataSource) => _dataSource = dataSource;

            public MySqlDataSource GetConnection(string tenant) => _dataSource;
        }

        class C
        {
            object M(Tenants tenants)
            {
                var dataSource = tenants.GetConnection("t1");
                using var conn = dataSource.OpenConnection();
                using var cmd = new MySqlCommand("select 1", conn);
                return cmd.ExecuteScalar();
            }
        }
        """);

    // ---------------------------------------------------------------- out and ref

    private const string Checkout = """
        using System.Collections.Concurrent;
        using MySqlConnector;
        using Prelude;

        sealed class Checkout
        {
            private readonly LeasePool _pool;

            public Checkout(LeasePool pool) => _pool = pool;

            public bool TryCheckout(string tenant, out ConnectionLease lease)
            {
                if (tenant.Length == 0)
                {
                    lease = null;
                    return false;
                }

                lease = _pool.GetConnection();
                return true;
            }

            public void Setup(string connectionString, ref MySqlConnection connection)
            {
                connection = new MySqlConnection(connectionString);
                connection.Open();
            }
        }

        """;

    [Fact]
    public Task Try_pattern_out_acquisition_not_released_is_reported() => Verify.VerifyAnalyzerAsync(Checkout + """
        class C
        {
            int M(Checkout checkout, string tenant)
            {
                if ({|#0:checkout.TryCheckout(tenant, out var lease)|})
                {
                    return lease.Execute("select 1");
                }

                return 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from TryCheckout(out var lease)", "on the path that returns at line 35"));

    [Fact]
    public Task Try_pattern_out_acquisition_whose_lease_is_never_read_is_reported() => Verify.VerifyAnalyzerAsync(Checkout + """
        class C
        {
            bool M(Checkout checkout, string tenant)
            {
                return {|#0:checkout.TryCheckout(tenant, out var lease)|};
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from TryCheckout(out var lease)", "on the path that returns at line 33"));

    [Fact]
    public Task Try_pattern_out_acquisition_released_on_success_is_not_reported() => Verify.VerifyAnalyzerAsync(Checkout + """
        class C
        {
            int M(Checkout checkout, string tenant)
            {
                if (!checkout.TryCheckout(tenant, out var lease))
                {
                    return 0;
                }

                using (lease)
                {
                    return lease.Execute("select 1");
                }
            }
        }
        """);

    [Fact]
    public Task Ref_acquisition_released_in_finally_is_not_reported() => Verify.VerifyAnalyzerAsync(Checkout + """
        class C
        {
            object M(Checkout checkout, string cs)
            {
                MySqlConnection conn = null;
                checkout.Setup(cs, ref conn);
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    conn.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Ref_acquisition_released_without_finally_is_reported() => Verify.VerifyAnalyzerAsync(Checkout + """
        class C
        {
            object M(Checkout checkout, string cs)
            {
                MySqlConnection conn = null;
                {|#0:checkout.Setup(cs, ref conn)|};
                using var cmd = new MySqlCommand("select 1", conn);
                var result = cmd.ExecuteScalar();
                conn.Dispose();
                return result;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from Setup(ref conn)", "if an exception is thrown at line 35"));

    [Fact]
    public Task Out_acquisition_of_a_bool_method_that_acquires_on_every_path_is_held_when_it_returns_false() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Tenants
        {
            private readonly MySqlDataSource _dataSource = null!;

            public bool TryOpen(string tenant, out MySqlConnection connection)
            {
                connection = _dataSource.OpenConnection();
                return tenant.Length > 0;
            }
        }

        class C
        {
            object M(Tenants tenants, string tenant)
            {
                if (!{|#0:tenants.TryOpen(tenant, out var conn)|})
                {
                    return null;
                }

                using (conn)
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from TryOpen(out var conn)", "on the path that returns at line 20"));

    [Fact]
    public Task Try_pattern_out_acquisition_of_a_method_that_returns_true_in_two_places_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Checkout
        {
            private readonly LeasePool _pool = null!;
            private readonly LeasePool _reports = null!;

            public bool TryCheckout(string tenant, out ConnectionLease lease)
            {
                if (tenant.Length == 0)
                {
                    lease = null;
                    return false;
                }

                if (tenant == "reports")
                {
                    lease = _reports.GetConnection();
                    return true;
                }

                lease = _pool.GetConnection();
                return true;
            }
        }

        class C
        {
            int M(Checkout checkout, string tenant)
            {
                if ({|#0:checkout.TryCheckout(tenant, out var lease)|})
                {
                    return lease.Execute("select 1");
                }

                return 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease' from TryCheckout(out var lease)", "on the path that returns at line 33"));

    [Fact]
    public Task Out_value_of_a_Try_method_that_may_return_true_with_a_lease_it_keeps_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        sealed class Checkout
        {
            private readonly LeasePool _pool = null!;
            private readonly Dictionary<string, ConnectionLease> _pinned = new();

            public bool TryCheckout(string tenant, out ConnectionLease lease)
            {
                if (_pinned.TryGetValue(tenant, out var pinned))
                {
                    // The pinned lease stays the checkout's: the caller must not release it.
                    lease = pinned;
                    return true;
                }

                lease = _pool.GetConnection();
                return true;
            }
        }

        class C
        {
            int M(Checkout checkout, string tenant)
            {
                if (checkout.TryCheckout(tenant, out var lease))
                {
                    return lease.Execute("select 1");
                }

                return 0;
            }
        }
        """);

    [Fact]
    public Task Out_acquisition_of_a_bool_method_that_may_return_a_computed_value_without_it_is_not_followed() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Tenants
        {
            private readonly MySqlDataSource _dataSource = null!;

            public bool TryOpen(string tenant, out MySqlConnection connection)
            {
                connection = null;
                if (tenant.Length == 0)
                {
                    return false;
                }

                if (tenant.Length > 64)
                {
                    return tenant.StartsWith("#");
                }

                connection = _dataSource.OpenConnection();
                return true;
            }
        }

        class C
        {
            object M(Tenants tenants, string tenant)
            {
                if (tenants.TryOpen(tenant, out var conn))
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }

                return null;
            }
        }
        """);

    // ---------------------------------------------------------------- helpers that release

    private const string Helpers = """
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;
        using Prelude;

        static class Db
        {
            public static void CloseQuietly(MySqlConnection connection)
            {
                try
                {
                    connection?.Close();
                }
                catch (MySqlException)
                {
                    Log.Info("close failed");
                }
            }

            public static async Task GiveBackAsync(ConnectionLease lease)
            {
                try
                {
                    Log.Info("returning the lease");
                }
                finally
                {
                    await lease.DisposeAsync();
                }
            }

            public static void CloseIfIdle(MySqlConnection connection, bool idle)
            {
                if (idle)
                {
                    connection.Close();
                }
            }
        }

        """;

    [Fact]
    public Task Helper_that_releases_its_argument_in_finally_is_a_release() => Verify.VerifyAnalyzerAsync(Helpers + """
        class C
        {
            object M(string cs)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    conn.Open();
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Db.CloseQuietly(conn);
                }
            }
        }
        """);

    [Fact]
    public Task Async_helper_that_releases_its_argument_is_a_release() => Verify.VerifyAnalyzerAsync(Helpers + """
        class C
        {
            async Task<int> M(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("t1");
                try
                {
                    return await lease.ExecuteAsync("select 1");
                }
                finally
                {
                    await Db.GiveBackAsync(lease);
                }
            }
        }
        """);

    [Fact]
    public Task Helper_that_releases_only_under_a_condition_is_not_a_release() => Verify.VerifyAnalyzerAsync(Helpers + """
        class C
        {
            object M(string cs, bool idle)
            {
                var conn = new MySqlConnection(cs);
                try
                {
                    {|#0:conn.Open()|};
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Db.CloseIfIdle(conn, idle);
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 49"));

    [Fact]
    public Task Helper_that_uses_its_argument_before_releasing_it_can_throw_with_it() => Verify.VerifyAnalyzerAsync(Helpers + """
        static class Audit
        {
            public static void RecordAndClose(MySqlConnection connection)
            {
                using (var cmd = new MySqlCommand("insert into audit values (1)", connection))
                {
                    cmd.ExecuteNonQuery();
                }

                connection.Close();
            }
        }

        class C
        {
            void M(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                Audit.RecordAndClose(conn);
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 58"));

    [Fact]
    public Task Helper_that_releases_on_one_path_and_gives_back_on_the_other_takes_the_connection_over() => Verify.VerifyAnalyzerAsync(Helpers + """
        static class Warm
        {
            public static MySqlConnection WarmOrClose(MySqlConnection connection)
            {
                if (connection.ServerVersion.Length == 0)
                {
                    connection.Close();
                    return null;
                }

                return connection;
            }
        }

        class C
        {
            object M(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                var warm = Warm.WarmOrClose(conn);
                return warm?.Database;
            }
        }
        """);

    [Fact]
    public Task Local_function_called_in_finally_that_releases_is_a_release() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            object M(MySqlDataSource ds)
            {
                MySqlConnection conn = null;
                try
                {
                    conn = ds.OpenConnection();
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Cleanup();
                }

                void Cleanup()
                {
                    conn?.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Local_function_called_in_finally_that_does_not_release_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            object M(MySqlDataSource ds)
            {
                MySqlConnection conn = null;
                try
                {
                    conn = {|#0:ds.OpenConnection()|};
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Cleanup();
                }

                void Cleanup()
                {
                    Log.Info("done with " + conn?.Database);
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 13"));

    [Fact]
    public Task Async_lambda_called_in_finally_that_releases_is_a_release() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using MySqlConnector;

        class C
        {
            async Task<object> M(MySqlDataSource ds)
            {
                var conn = await ds.OpenConnectionAsync();
                Func<Task> cleanup = async () => await conn.DisposeAsync();
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return await cmd.ExecuteScalarAsync();
                }
                finally
                {
                    await cleanup();
                }
            }
        }
        """);

    [Fact]
    public Task Local_function_given_the_connection_as_an_argument_is_read() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;
        using Prelude;

        class C
        {
            object Closed(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Finish(conn);
                }

                static void Finish(MySqlConnection connection) => connection.Dispose();
            }

            object Logged(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    Done(conn);
                }

                static void Done(MySqlConnection connection) => Log.Info("done with " + connection.Database);
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 28"));

    [Fact]
    public Task Lambda_of_a_delegate_local_given_the_connection_as_an_argument_is_read() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        class C
        {
            object Closed(MySqlDataSource ds)
            {
                Action<MySqlConnection> close = connection => connection.Dispose();
                var conn = ds.OpenConnection();
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    close(conn);
                }
            }

            object Logged(MySqlDataSource ds)
            {
                Action<MySqlConnection> done = connection => Log.Info("done with " + connection.Database);
                var conn = {|#0:ds.OpenConnection()|};
                try
                {
                    using var cmd = new MySqlCommand("select 1", conn);
                    return cmd.ExecuteScalar();
                }
                finally
                {
                    done(conn);
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 29"));

    [Fact]
    public Task Recursive_helpers_do_not_hang_and_report_nothing() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        class C
        {
            private readonly MySqlDataSource _ds;

            public C(MySqlDataSource ds) => _ds = ds;

            MySqlConnection Ping(int depth) => depth > 0 ? Pong(depth - 1) : _ds.OpenConnection();

            MySqlConnection Pong(int depth) => Ping(depth);

            void Close(MySqlConnection connection, int depth)
            {
                if (depth > 0)
                {
                    Close(connection, depth - 1);
                }
            }

            void M()
            {
                var conn = Ping(3);
                Close(conn, 2);
            }
        }
        """);

    // ---------------------------------------------------------------- iterators

    private const string Rows = """
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class InvoiceRows
        {
            private readonly MySqlDataSource _dataSource;

            public InvoiceRows(MySqlDataSource dataSource) => _dataSource = dataSource;

            public IEnumerable<long> Ids()
            {
                using var connection = _dataSource.OpenConnection();
                using var cmd = new MySqlCommand("select id from invoices", connection);
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    yield return reader.GetInt64(0);
                }
            }
        }

        """;

    [Fact]
    public Task Enumerator_of_an_iterator_holding_a_connection_taken_by_hand_and_not_disposed_is_reported() => Verify.VerifyAnalyzerAsync(Rows + """
        class C
        {
            long First(InvoiceRows rows)
            {
                var e = {|#0:rows.Ids().GetEnumerator()|};
                return e.MoveNext() ? e.Current : 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'e' from Ids().GetEnumerator()", "on the path that returns at line 26"));

    [Theory]
    [InlineData("", "rows[2026]", "this[]")]
    [InlineData("", "rows.Recent", "Recent")]
    [InlineData("var recent = rows.Recent;", "recent", "Recent")]
    public Task Enumerator_of_an_iterator_property_or_indexer_holding_a_connection_taken_by_hand_and_not_disposed_is_reported(string before, string iterator, string name) =>
        Verify.VerifyAnalyzerAsync($$"""
            using System.Collections.Generic;
            using MySqlConnector;

            sealed class InvoiceRows
            {
                private readonly MySqlDataSource _dataSource = null!;

                public IEnumerable<long> Recent
                {
                    get
                    {
                        using var connection = _dataSource.OpenConnection();
                        yield return connection.ServerThread;
                    }
                }

                public IEnumerable<long> this[int year]
                {
                    get
                    {
                        using var connection = _dataSource.OpenConnection();
                        yield return connection.ServerThread + year;
                    }
                }
            }

            class C
            {
                long First(InvoiceRows rows)
                {
                    {{before}}
                    var e = {|#0:{{iterator}}.GetEnumerator()|};
                    return e.MoveNext() ? e.Current : 0;
                }

                long Sum(InvoiceRows rows)
                {
                    long sum = 0;
                    using var e = {{iterator.Replace("recent", "rows.Recent")}}.GetEnumerator();
                    while (e.MoveNext())
                    {
                        sum += e.Current;
                    }

                    return sum;
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments($"'e' from {name}.GetEnumerator()", "on the path that returns at line 33"));

    [Fact]
    public Task Enumerator_of_an_iterator_holding_two_connections_taken_by_hand_and_not_disposed_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class Copier
        {
            private readonly MySqlDataSource _from = null!;
            private readonly MySqlDataSource _to = null!;

            public IEnumerable<long> Copy()
            {
                using var source = _from.OpenConnection();
                using var target = _to.OpenConnection();
                yield return source.ServerThread + target.ServerThread;
            }
        }

        class C
        {
            long First(Copier copier)
            {
                var e = {|#0:copier.Copy().GetEnumerator()|};
                return e.MoveNext() ? e.Current : 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'e' from Copy().GetEnumerator()", "on the path that returns at line 22"));

    [Fact]
    public Task Enumerator_of_an_iterator_in_using_or_foreach_is_not_reported() => Verify.VerifyAnalyzerAsync(Rows + """
        class C
        {
            long First(InvoiceRows rows)
            {
                using var e = rows.Ids().GetEnumerator();
                return e.MoveNext() ? e.Current : 0;
            }

            long Sum(InvoiceRows rows)
            {
                long sum = 0;
                foreach (var id in rows.Ids())
                {
                    sum += id;
                }

                return sum;
            }
        }
        """);

    private const string AsyncRows = """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using MySqlConnector;

        sealed class InvoiceRows
        {
            private readonly MySqlDataSource _dataSource;

            public InvoiceRows(MySqlDataSource dataSource) => _dataSource = dataSource;

            public async IAsyncEnumerable<long> IdsAsync()
            {
                await using var connection = await _dataSource.OpenConnectionAsync();
                using var cmd = new MySqlCommand("select id from invoices", connection);
                using var reader = await cmd.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    yield return reader.GetInt64(0);
                }
            }
        }

        """;

    [Fact]
    public Task Enumerator_of_an_async_iterator_holding_a_connection_taken_by_hand_and_not_disposed_is_reported() => Verify.VerifyAnalyzerAsync(AsyncRows + """
        class C
        {
            async Task<long> FirstAsync(InvoiceRows rows)
            {
                var e = {|#0:rows.IdsAsync().GetAsyncEnumerator()|};
                return await e.MoveNextAsync() ? e.Current : 0;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'e' from IdsAsync().GetAsyncEnumerator()", "on the path that returns at line 27"));

    [Fact]
    public Task Enumerator_of_an_async_iterator_in_await_using_or_await_foreach_is_not_reported() => Verify.VerifyAnalyzerAsync(AsyncRows + """
        class C
        {
            async Task<long> FirstAsync(InvoiceRows rows)
            {
                await using var e = rows.IdsAsync().GetAsyncEnumerator();
                return await e.MoveNextAsync() ? e.Current : 0;
            }

            async Task<long> SumAsync(InvoiceRows rows)
            {
                long sum = 0;
                await foreach (var id in rows.IdsAsync())
                {
                    sum += id;
                }

                return sum;
            }
        }
        """);

    // ---------------------------------------------------------------- helpers that give back the connection they were given

    private const string Warmers = """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Prelude;

        static class Warmers
        {
            public static PooledConnection Warm(this PooledConnection c)
            {
                c.Execute("select 1");
                return c;
            }

            public static async Task<PooledConnection> WarmAsync(this PooledConnection c)
            {
                await c.ExecuteAsync("select 1");
                return c;
            }

            public static PooledConnection WarmOrRelease(PooledConnection c)
            {
                try
                {
                    c.Execute("select 1");
                }
                catch
                {
                    c.Release();
                    throw;
                }

                return c;
            }

            public static readonly List<PooledConnection> Tracked = new();

            public static PooledConnection Track(PooledConnection c)
            {
                Tracked.Add(c);
                return c;
            }
        }

        """;

    [Theory]
    [InlineData("var warm = conn.Warm();")]
    [InlineData("var warm = await conn.WarmAsync();")]
    [InlineData("var warm = await conn.WarmAsync().ConfigureAwait(false);")]
    public Task Helper_that_returns_its_connection_can_throw_with_it_before_the_try(string warming) => Verify.VerifyAnalyzerAsync(Warmers + $$"""
        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{warming}}
                try
                {
                    return warm.Execute("select 1");
                }
                finally
                {
                    warm.Release();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 47"));

    [Theory]
    [InlineData("var warm = conn.Warm();")]
    [InlineData("var warm = await conn.WarmAsync();")]
    [InlineData("var warm = Warmers.WarmOrRelease(conn);")]
    public Task Connection_given_back_by_a_helper_and_never_released_is_reported(string warming) => Verify.VerifyAnalyzerAsync(Warmers + $$"""
        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{warming}}
                return warm.Execute("select 1");
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 48"));

    [Theory]
    [InlineData("conn = conn.Warm();", "conn.Release();")]
    [InlineData("var warm = await conn.WarmAsync();", "conn.Release();")]
    [InlineData("conn.Warm();", "conn.Release();")]
    [InlineData("var warm = Warmers.Track(conn);", "")]
    public Task Connection_given_back_by_a_helper_inside_the_try_and_released_through_either_name_is_not_reported(string warming, string release) =>
        Verify.VerifyAnalyzerAsync(Warmers + $$"""
        class C
        {
            async Task<int> M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    {{warming}}
                    return conn.Execute("select 1");
                }
                finally
                {
                    {{release}}
                }
            }
        }
        """);

    [Fact]
    public Task Helper_that_releases_what_it_was_given_before_rethrowing_leaves_nothing_to_release_when_it_throws() =>
        Verify.VerifyAnalyzerAsync(Warmers + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                var warm = Warmers.WarmOrRelease(conn);
                try
                {
                    return warm.Execute("select 1");
                }
                finally
                {
                    warm.Release();
                }
            }
        }
        """);

    [Fact]
    public Task Connection_released_through_the_name_a_helper_gave_back_is_released_for_every_name() =>
        Verify.VerifyAnalyzerAsync(Warmers + """
        class C
        {
            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                var warm = Warmers.WarmOrRelease(conn);
                {|#1:warm.Release()|};
                return {|#0:conn.Execute("select 1")|};
            }
        }
        """, Verify.Diagnostic(Descriptors.ConnectionUsedAfterRelease).WithLocation(0).WithLocation(1).WithArguments("'conn'", "is used at line 49 after it was released at line 48"));

    // ---------------------------------------------------------------- fluent methods that return the object they were called on

    private const string FluentWrapper = """
        using System.Data;
        using System.Data.Common;

        class Wrapper : DbConnection
        {
            private readonly DbConnection _inner;

            public Wrapper(DbConnection inner) => _inner = inner;

            public DbTransaction? Transaction { get; private set; }

            public Wrapper BeginAuto()
            {
                Transaction = BeginTransaction();
                return this;
            }

            public Wrapper Enlisted(DbTransaction? transaction) => transaction is null ? new Wrapper(_inner) : this;

            public override string ConnectionString { get => _inner.ConnectionString; set => _inner.ConnectionString = value; }
            public override string Database => _inner.Database;
            public override string DataSource => _inner.DataSource;
            public override string ServerVersion => _inner.ServerVersion;
            public override ConnectionState State => _inner.State;
            public override void ChangeDatabase(string databaseName) => _inner.ChangeDatabase(databaseName);
            public override void Close() => _inner.Close();
            public override void Open() => _inner.Open();
            protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => _inner.BeginTransaction(isolationLevel);
            protected override DbCommand CreateDbCommand() => _inner.CreateCommand();
        }

        """;

    [Fact]
    public Task Connection_returned_through_a_method_of_the_code_that_returns_this_is_handed_back_and_can_leak_only_when_it_throws() =>
        Verify.VerifyAnalyzerAsync(FluentWrapper + """
        static class Extensions
        {
            public static Wrapper OpenWithTransaction(this DbConnection connection)
            {
                var wrapper = new Wrapper(connection);
                {|#0:wrapper.Open()|};
                return wrapper.BeginAuto();
            }

            public static Wrapper OpenWithTransactionOrDispose(this DbConnection connection)
            {
                var wrapper = new Wrapper(connection);
                try
                {
                    wrapper.Open();
                    return wrapper.BeginAuto();
                }
                catch
                {
                    wrapper.Dispose();
                    throw;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'wrapper'", "if an exception is thrown at line 37"));

    [Fact]
    public Task Method_of_the_code_that_returns_this_on_only_some_paths_does_not_hand_back_the_connection() =>
        Verify.VerifyAnalyzerAsync(FluentWrapper + """
        static class Extensions
        {
            public static Wrapper OpenEnlisted(this DbConnection connection, DbTransaction? transaction)
            {
                var wrapper = new Wrapper(connection);
                {|#0:wrapper.Open()|};
                return wrapper.Enlisted(transaction);
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'wrapper'", "on the path that returns at line 37"));

    [Fact]
    public Task Method_of_the_code_that_returns_this_called_on_another_object_does_not_hand_back_the_connection() =>
        Verify.VerifyAnalyzerAsync(FluentWrapper + """
        static class Extensions
        {
            public static Wrapper OpenBeside(this DbConnection connection, Wrapper other)
            {
                var wrapper = new Wrapper(connection);
                {|#0:wrapper.Open()|};
                return other.BeginAuto();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'wrapper'", "on the path that returns at line 37"));

    [Fact]
    public Task Method_of_a_struct_that_returns_this_hands_back_a_copy_holding_the_connection() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        struct Lease : IDisposable
        {
            private readonly PooledConnection _connection;

            public Lease(PooledConnection connection) => _connection = connection;

            public Lease Touched()
            {
                Log.Info("touched");
                return this;
            }

            public void Dispose() => _connection.Release();
        }

        static class Leases
        {
            // The copy 'Touched' returns holds the connection: the caller gets it, and only a throw from 'Touched' loses it.
            public static Lease Take(Pool pool)
            {
                var lease = new Lease({|#0:pool.GetConnection()|});
                return lease.Touched();
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("The result of 'GetConnection'", "if an exception is thrown at line 25"));

    [Theory]
    [InlineData("struct", "public Scope Touched() => this;")]
    [InlineData("struct", "public Scope Touched() { return this; }")]
    [InlineData("sealed class", "public Scope Touched() => this;")]
    [InlineData("sealed class", "public Scope Touched() { return (this); }")]
    public Task Method_of_the_code_that_only_returns_this_cannot_throw_on_a_new_object(string kind, string touched) =>
        // 'Touched' does nothing but return the object, which the 'new' just made: nothing can throw between the
        // acquisition and the 'using' that disposes the scope.
        Verify.VerifyAnalyzerAsync($$"""
            using System;
            using Prelude;

            {{kind}} Scope : IDisposable
            {
                private readonly PooledConnection _connection;

                public Scope(PooledConnection connection) => _connection = connection;

                {{touched}}

                public int Count() => _connection.Execute("select 1");

                public void Dispose() => _connection.Release();
            }

            static class Reports
            {
                public static int Run(Pool pool, bool skip)
                {
                    using var scope = new Scope(pool.GetConnection()).Touched();
                    return skip ? 0 : scope.Count();
                }
            }
            """);

    // ---------------------------------------------------------------- helpers that may hand back a connection they did not open

    [Fact]
    public Task Helper_that_returns_the_given_connection_or_a_fresh_one_is_not_an_acquisition() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        sealed class JobStorage
        {
            private readonly DbConnection? _existing;
            private readonly Func<DbConnection> _factory;

            public JobStorage(Func<DbConnection> factory, DbConnection? existing = null)
            {
                _factory = factory;
                _existing = existing;
            }

            internal DbConnection CreateAndOpenConnection()
            {
                var connection = _existing ?? _factory();
                if (connection.State == ConnectionState.Closed)
                {
                    connection.Open();
                }

                return connection;
            }

            internal void ReleaseConnection(IDbConnection? connection)
            {
                if (connection is not null && !ReferenceEquals(connection, _existing))
                {
                    connection.Dispose();
                }
            }

            public object? Count()
            {
                var connection = CreateAndOpenConnection();
                try
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = "select count(*) from Job";
                    return command.ExecuteScalar();
                }
                finally
                {
                    ReleaseConnection(connection);
                }
            }
        }
        """);

    [Theory]
    [InlineData("bool IsExisting(string name, PooledConnection c) => c == _existing;", "IsExisting(\"audit\", conn)")]
    [InlineData("bool IsExisting(PooledConnection c) { return c == _existing; }", "IsExisting(conn)")]
    public Task A_helper_that_tests_the_connection_against_a_member_in_any_parameter_or_body_form_is_read(string helper, string call) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class Storage
        {
            private PooledConnection? _existing;

            {{helper}}

            int Count(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!{{call}})
                    {
                        conn.Release();
                    }
                }
            }
        }
        """);

    [Theory]
    [InlineData("bool IsExisting(PooledConnection a, PooledConnection? b) => b == _existing;", "IsExisting(conn, _existing)")]
    [InlineData("protected virtual bool IsExisting(PooledConnection c) => c == _existing;", "IsExisting(conn)")]
    public Task A_helper_that_does_not_test_the_connection_itself_or_that_an_override_may_replace_is_followed_both_ways(string helper, string call) => Verify.VerifyAnalyzerAsync($$"""
        using Prelude;

        class Storage
        {
            private PooledConnection? _existing;

            {{helper}}

            int Count(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    if (!{{call}})
                    {
                        conn.Release();
                    }
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 14"));

    [Fact]
    public Task Fresh_connection_given_to_a_release_that_skips_only_the_storage_own_connection_is_released() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        sealed class JobStorage
        {
            private readonly string _connectionString;
            private readonly DbConnection? _existing;

            public JobStorage(string connectionString, DbConnection? existing = null)
            {
                _connectionString = connectionString;
                _existing = existing;
            }

            internal DbConnection CreateAndOpenConnection()
            {
                var connection = new MySqlConnection(_connectionString);
                connection.Open();
                return connection;
            }

            internal void ReleaseConnection(IDbConnection? connection)
            {
                if (connection != null && !IsExistingConnection(connection))
                {
                    connection.Dispose();
                }
            }

            private bool IsExistingConnection(IDbConnection? connection) => connection != null && ReferenceEquals(connection, _existing);

            public object? Count()
            {
                var connection = CreateAndOpenConnection();
                try
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = "select count(*) from Job";
                    return command.ExecuteScalar();
                }
                finally
                {
                    ReleaseConnection(connection);
                }
            }

            public object? CountInline()
            {
                IDbConnection? connection = null;
                try
                {
                    connection = CreateAndOpenConnection();
                    using var command = connection.CreateCommand();
                    command.CommandText = "select count(*) from Job";
                    return command.ExecuteScalar();
                }
                finally
                {
                    if (connection is not null && !ReferenceEquals(connection, _existing))
                    {
                        connection.Dispose();
                    }
                }
            }
        }
        """);

    [Fact]
    public Task Fresh_connection_released_only_when_it_is_the_storage_own_connection_leaks() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        sealed class JobStorage
        {
            private readonly string _connectionString;
            private readonly DbConnection? _existing;

            public JobStorage(string connectionString, DbConnection? existing = null)
            {
                _connectionString = connectionString;
                _existing = existing;
            }

            internal DbConnection CreateAndOpenConnection()
            {
                var connection = new MySqlConnection(_connectionString);
                connection.Open();
                return connection;
            }

            private bool IsExistingConnection(IDbConnection? connection) => connection != null && ReferenceEquals(connection, _existing);

            public void Touch()
            {
                var connection = {|#0:CreateAndOpenConnection()|};
                if (IsExistingConnection(connection))
                {
                    connection.Dispose();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'connection' from CreateAndOpenConnection()", "on the path that leaves the method after line 28"));

    [Fact]
    public Task Helper_that_always_opens_a_fresh_connection_is_an_acquisition_even_when_it_tests_the_state() => Verify.VerifyAnalyzerAsync("""
        using System.Data;
        using System.Data.Common;
        using MySqlConnector;

        sealed class JobStorage
        {
            private readonly string _connectionString;

            public JobStorage(string connectionString) => _connectionString = connectionString;

            internal DbConnection CreateAndOpenConnection()
            {
                var connection = new MySqlConnection(_connectionString);
                connection.Open();
                return connection;
            }

            public object? Count()
            {
                var connection = {|#0:CreateAndOpenConnection()|};
                using var command = connection.CreateCommand();
                command.CommandText = "select count(*) from Job";
                return command.ExecuteScalar();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'connection' from CreateAndOpenConnection()", "on the path that returns at line 23"));

    // ---------------------------------------------------------------- guards and allocations that cannot throw

    [Fact]
    public Task Guard_helper_with_a_condition_that_holds_and_empty_collections_do_not_throw() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        static class Invariant
        {
            public static void Require(bool condition, string? message = null)
            {
                if (!condition)
                {
                    throw new InvalidOperationException(message ?? "invariant violated");
                }
            }
        }

        class C
        {
            int Names(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                var names = new List<string>();
                Invariant.Require(true || names.Count > 0);
                using (conn)
                {
                    return names.Count;
                }
            }

            int Checked(MySqlDataSource ds, int limit)
            {
                var conn = {|#0:ds.OpenConnection()|};
                Invariant.Require(limit > 0, "limit");
                using (conn)
                {
                    return limit;
                }
            }

            int Sized(MySqlDataSource ds, int size)
            {
                var conn = {|#1:ds.OpenConnection()|};
                var names = new List<string>(size);
                using (conn)
                {
                    return names.Capacity;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 32"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "if an exception is thrown at line 42"));

    [Fact]
    public Task Guard_helper_given_a_conjunction_is_satisfied_only_when_every_side_holds() =>
        // '&&' holds when both sides do; a condition nested deeper than the guard reading follows (ten conjuncts, either way) is
        // taken as one that may fail, so the call may throw. Eight levels down is still read.
        Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        static class Invariant
        {
            public static void Require(bool condition)
            {
                if (!condition)
                {
                    throw new InvalidOperationException("invariant violated");
                }
            }
        }

        class C
        {
            int Both(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                var names = new List<string>();
                Invariant.Require((true || names.Count > 0) && (names.Count >= 0 || true));
                using (conn)
                {
                    return names.Count;
                }
            }

            int OneSide(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var names = new List<string>();
                Invariant.Require((true || names.Count > 0) && names.Count >= 0);
                using (conn)
                {
                    return names.Count;
                }
            }

            int TooDeepOnTheLeft(MySqlDataSource ds)
            {
                var conn = {|#1:ds.OpenConnection()|};
                var names = new List<string>();
                Invariant.Require((true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0) && (true || names.Count > 0));
                using (conn)
                {
                    return names.Count;
                }
            }

            int TooDeepOnTheRight(MySqlDataSource ds)
            {
                var conn = {|#2:ds.OpenConnection()|};
                var names = new List<string>();
                Invariant.Require((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0) && ((true || names.Count > 0)))))))))));
                using (conn)
                {
                    return names.Count;
                }
            }

            int AsDeepAsFollowed(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                var names = new List<string>();
                Invariant.Require(names.Count > 0 || (names.Count > 1 || (names.Count > 2 || (names.Count > 3 || (names.Count > 4 || (names.Count > 5 || (names.Count > 6 || (names.Count > 7 || true))))))));
                using (conn)
                {
                    return names.Count;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 33"),
        Verify.Diagnostic().WithLocation(1).WithArguments("'conn'", "if an exception is thrown at line 44"),
        Verify.Diagnostic().WithLocation(2).WithArguments("'conn'", "if an exception is thrown at line 55"));

    [Fact]
    public Task A_null_check_of_the_connection_itself_before_its_using_is_not_a_path_that_leaks() => Verify.VerifyAnalyzerAsync("""
        #define DEBUG
        using System;
        using System.Diagnostics;
        using MySqlConnector;

        class C
        {
            int Asserted(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                Debug.Assert(conn != null);
                Trace.Assert(conn is not null, "opened");
                using (conn)
                {
                    return 1;
                }
            }

            int Guarded(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                ArgumentNullException.ThrowIfNull(conn);
                using (conn)
                {
                    return 1;
                }
            }

            int Other(MySqlDataSource ds, string? name)
            {
                var conn = {|#0:ds.OpenConnection()|};
                Debug.Assert(name != null);
                ArgumentNullException.ThrowIfNull(name);
                using (conn)
                {
                    return name.Length;
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 32"));

    private static string CalledBetweenAcquisitionAndTry(string call, string members, string header = "") => $$"""
        {{header}}using System;
        using System.Diagnostics;
        using Prelude;

        interface INotifier { void Opened(); }

        partial class C
        {
            private readonly INotifier _notifier = null!;

            int M(Pool pool, int n, C other)
            {
                var conn = {|#0:pool.GetConnection()|};
                {{call}};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.Release();
                }
            }

            static int Compute(int n) => 100 / n;

            {{members}}
        }
        """;

    [Theory]
    [InlineData("Trace()", "static void Trace() { }")]
    [InlineData("Note(n, \"opened\", conn)", "void Note(int count, string text, PooledConnection c) { }")]
    [InlineData("Note()", "void Note() { return; }")]
    [InlineData("this.Note()", "private void Note() { /* nothing yet */ }")]
    [InlineData("Log(\"opened \" + n)", "[Conditional(\"TRACE_SQL\")] static void Log(string message) { Console.WriteLine(message); }")]
    [InlineData("Log(\"opened\")", "[DebuggerStepThrough, Conditional(\"TRACE_SQL\")] static void Log(string message) { throw new InvalidOperationException(message); }")]
    [InlineData("Debug.WriteLine(\"opened\")", "")]
    [InlineData("OnOpened(conn)", "partial void OnOpened(PooledConnection c);")]
    [InlineData("Ready(n)", "partial void Ready(int count); partial void Ready(int count) { }")]
    [InlineData("Trace(); void Trace() { }", "")]
    [InlineData("conn.Touch()", "} static class Touches { public static void Touch(this PooledConnection c) { }")]
    [InlineData("Opened()", "} partial class C : Base { protected sealed override void Opened() { } } class Base { protected virtual void Opened() { Console.WriteLine(1); }")]
    public Task A_call_that_does_nothing_between_the_acquisition_and_its_try_is_not_a_path_that_leaks(string call, string members) =>
        // An empty body (or only 'return;'), non-virtual (or a sealed override), called on 'this' or static; a
        // '[Conditional]' method whose symbol is not defined and a partial method without a body, both removed by the compiler.
        Verify.VerifyAnalyzerAsync(CalledBetweenAcquisitionAndTry(call, members).Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("Trace(Compute(n))", "static void Trace(int value) { }")]
    [InlineData("OnOpened()", "protected virtual void OnOpened() { }")]
    [InlineData("_notifier.Opened()", "")]
    [InlineData("other.Note()", "private void Note() { }")]
    [InlineData("Log(\"opened\")", "[Conditional(\"DEBUG\")] static void Log(string message) { Console.WriteLine(message); }", "#define DEBUG\n")]
    [InlineData("Log(\"opened\")", "[Conditional(\"TRACE_SQL\")] static void Log(string message) { Console.WriteLine(message); }", "#undef TRACE_SQL\n")]
    [InlineData("Log(\"opened\")", "static void Log(string message) { if (message.Length > 80) { throw new ArgumentException(message); } }")]
    [InlineData("Ready(n)", "partial void Ready(int count); partial void Ready(int count) { Console.WriteLine(count); }")]
    [InlineData("Opened()", "} partial class C : Base { protected override void Opened() { } } class Base { protected virtual void Opened() { Console.WriteLine(1); }")]
    [InlineData("Console.WriteLine(conn)", "")]
    [InlineData("IsExisting(conn)", "private object? _existing; bool IsExisting(object c) => c == _existing && c.Equals(_existing);")]
    [InlineData("IsExisting(conn)", "sealed class Holder { public object? Current { get; set; } } private Holder _holder = new(); bool IsExisting(object c) => c == _holder.Current;")]
    public Task A_call_that_may_do_something_between_the_acquisition_and_its_try_is_still_reported(string call, string members, string header = "") =>
        // An argument that may throw, a virtual or interface method or an override a derived type may override again, a
        // call on another object (null?), a '[Conditional]' method whose symbol is defined, a body that does something.
        Verify.VerifyAnalyzerAsync(CalledBetweenAcquisitionAndTry(call, members, header),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", $"if an exception is thrown at line {(header.Length > 0 ? 15 : 14)}"));

    [Theory]
    [InlineData(true, "TRACE", "TRACE_SQL")]
    [InlineData(false, "DEBUG")]
    public Task A_call_of_a_conditional_method_is_reported_only_when_the_project_defines_its_symbol(bool reported, params string[] symbols)
    {
        // The symbols come from the project (DefineConstants), not from a '#define' of the file: the call stays when one
        // of them is the method's, and is removed when none is.
        var source = CalledBetweenAcquisitionAndTry("Log(\"opened\")", "[Conditional(\"TRACE_SQL\")] static void Log(string message) { Console.WriteLine(message); }");
        var test = Verify.CreateTest(reported ? source : source.Replace("{|#0:", "").Replace("|}", ""));
        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (Microsoft.CodeAnalysis.CSharp.CSharpParseOptions)solution.GetProject(projectId)!.ParseOptions!;
            return solution.WithProjectParseOptions(projectId, options.WithPreprocessorSymbols(symbols));
        });
        if (reported)
        {
            test.ExpectedDiagnostics.Add(Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 14"));
        }

        return test.RunAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData("var name = nameof(conn)", "")]
    [InlineData("var type = typeof(C)", "")]
    [InlineData("var zero = default(int)", "")]
    [InlineData("const string Label = \"tenant\"; var text = $\"{Label}-{Label}\"", "")]
    [InlineData("var text = $\"opened {n}\"", "")]
    [InlineData("var doubled = unchecked(n * 2)", "")]
    [InlineData("var doubled = n * 2 + 1", "")]
    [InlineData("var limit = checked(Max * 2)", "const int Max = 1000;")]
    [InlineData("var small = checked((byte)Max)", "const int Max = 200;")]
    [InlineData("var negative = checked(-Max)", "const int Max = 200;")]
    [InlineData("var wide = (long)n", "")]
    [InlineData("object boxed = n", "")]
    [InlineData("var pair = (n, \"x\")", "")]
    [InlineData("var shape = new { n, Name = \"x\" }", "")]
    [InlineData("Func<int> later = () => Compute(n)", "")]
    [InlineData("var pick = n == 1 ? 2 : 3", "")]
    [InlineData("var inRange = n is > 0 and < 10", "")]
    [InlineData("var label = n switch { 1 => \"one\", _ => \"many\" }", "")]
    [InlineData("int? maybe = null; var value = maybe ?? n", "")]
    [InlineData("_count++", "private int _count;")]
    [InlineData("_opened = true", "private bool _opened;")]
    [InlineData("Debug.Assert(n > 0)", "")]
    public Task Work_that_cannot_throw_between_the_acquisition_and_its_try_is_not_a_path_that_leaks(string call, string members) =>
        // Names, types, defaults, constants (also 'checked' arithmetic the compiler folds), interpolation, unchecked
        // arithmetic and conversions, tuples, lambdas, conditionals and patterns, a 'switch' with a discard arm, a field
        // of 'this', an assertion the compiler removes (DEBUG is not defined).
        Verify.VerifyAnalyzerAsync(CalledBetweenAcquisitionAndTry(call, members).Replace("{|#0:", "").Replace("|}", ""));

    [Theory]
    [InlineData("var doubled = checked(n * 2)", "")]
    [InlineData("var small = checked((byte)n)", "")]
    [InlineData("var label = n switch { 1 => \"one\", 2 => \"two\" }", "")]
    [InlineData("Debug.Assert(n > 0)", "", "#define DEBUG\n")]
    [InlineData("var text = n.ToString(\"D4\")", "")]
    public Task Work_that_may_throw_between_the_acquisition_and_its_try_is_still_reported(string call, string members, string header = "") =>
        // Checked arithmetic on a value read at run time, a 'switch' without a discard arm, a kept assertion, a call.
        Verify.VerifyAnalyzerAsync(CalledBetweenAcquisitionAndTry(call, members, header),
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", $"if an exception is thrown at line {(header.Length > 0 ? 15 : 14)}"));

    [Fact]
    public Task Local_function_named_like_a_release_is_read() => Verify.VerifyAnalyzerAsync("""
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> Touch(LeasePool pool)
            {
                var lease = await pool.GetConnectionAsync("t1");
                try
                {
                    return await lease.ExecuteAsync("update t set touched = now()");
                }
                finally
                {
                    Release();
                }

                void Release() => lease.Dispose();
            }

            int Forget(LeasePool pool)
            {
                var lease = {|#0:pool.GetConnection()|};
                try
                {
                    return lease.Execute("select 1");
                }
                finally
                {
                    Dispose();
                }

                void Dispose() => Log.Info("done");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'lease'", "on the path that returns at line 26"));

    // ---------------------------------------------------------------- members of C# 14 extension blocks

    private const string LeaseExtensions = """
        using System;
        using Prelude;

        static class LeaseExtensions
        {
            extension(PooledConnection connection)
            {
                public void ReleaseQuietly()
                {
                    try
                    {
                        connection.Release();
                    }
                    catch (Exception)
                    {
                    }
                }

                public int Ping() => connection.Execute("select 1");
            }
        }

        """;

    [ExtensionBlocksFact]
    public Task Released_by_an_extension_block_member_of_the_code_is_not_reported() => VerifyPreviewAsync(LeaseExtensions + """
        class C
        {
            int Run(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    conn.ReleaseQuietly();
                }
            }
        }
        """);

    [ExtensionBlocksFact]
    public Task Used_by_an_extension_block_member_of_the_code_is_reported() => VerifyPreviewAsync(LeaseExtensions + """
        class C
        {
            int Run(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                return conn.Ping();
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 27"));

    [ExtensionBlocksFact]
    public Task An_extension_block_member_of_the_code_called_on_another_connection_releases_nothing() => VerifyPreviewAsync(LeaseExtensions + """
        class C
        {
            int Run(Pool pool, PooledConnection other)
            {
                var conn = {|#0:pool.GetConnection()|};
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    other.ReleaseQuietly();
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 29"));

    private static Task VerifyPreviewAsync(string source, params DiagnosticResult[] expected)
    {
        var test = Verify.CreateTest(source);
        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var options = (CSharpParseOptions)solution.GetProject(projectId)!.ParseOptions!;
            return solution.WithProjectParseOptions(projectId, options.WithLanguageVersion(LanguageVersion.Preview));
        });
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task Partial_methods_and_the_constructor_storing_for_a_partial_Dispose_are_read_through_their_implementing_part() => Verify.VerifyAnalyzerAsync("""
        using System;
        using MySqlConnector;
        using Prelude;

        sealed partial class JobStorage : IDisposable
        {
            private readonly MySqlConnection _connection;

            public JobStorage(MySqlConnection connection) => _connection = connection;

            public int Count() => 0;

            public partial void Dispose();
        }

        sealed partial class JobStorage
        {
            public partial void Dispose() => _connection.Dispose();
        }

        partial class C
        {
            private partial void Finish(PooledConnection conn);
            private partial void Note(PooledConnection conn);
            private partial PooledConnection Take(Pool pool);

            int Owned(MySqlDataSource ds)
            {
                using var storage = new JobStorage(ds.OpenConnection());
                return storage.Count();
            }

            int Released(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("x");
                }
                finally
                {
                    Finish(conn);
                }
            }

            int Leaked(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                Note(conn);
                return conn.Execute("x");
            }

            int Taken(Pool pool)
            {
                var conn = {|#1:Take(pool)|};
                return conn.Execute("x");
            }
        }

        partial class C
        {
            private partial void Finish(PooledConnection connection) => connection.Release();
            private partial void Note(PooledConnection connection) => Log.Info("x");
            private partial PooledConnection Take(Pool pool) => pool.GetConnection();
        }
        """,
        Verify.Diagnostic(Descriptors.ConnectionNotReleased).WithLocation(0).WithArguments("'conn'", "on the path that returns at line 50"),
        Verify.Diagnostic(Descriptors.ConnectionNotReleased).WithLocation(1).WithArguments("'conn' from Take()", "on the path that returns at line 56"));

    [PartialPropertiesFact]
    public Task Partial_property_whose_implementing_getter_acquires_is_an_acquisition_for_whoever_reads_it() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        partial class Repository
        {
            private readonly MySqlDataSource _ds = null!;

            public partial MySqlConnection Connection { get; }

            int Kept()
            {
                var c = {|#0:Connection|};
                return c.Database.Length;
            }
        }

        partial class Repository
        {
            public partial MySqlConnection Connection { get => _ds.OpenConnection(); }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'c' from Connection", "on the path that returns at line 12"));

    [Fact]
    public Task Connection_passed_twice_to_a_method_that_releases_its_first_parameter_is_released() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        class C
        {
            static void Finish(PooledConnection connection, PooledConnection forLog)
            {
                connection.Release();
            }

            int M(Pool pool)
            {
                var conn = pool.GetConnection();
                try
                {
                    return conn.Execute("select 1");
                }
                finally
                {
                    Finish(conn, conn);
                }
            }
        }
        """);

    [Fact]
    public Task Guard_helper_with_two_bool_parameters_holds_by_the_one_it_tests() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        static class Invariant
        {
            public static void Require(bool strict, bool condition)
            {
                if (!condition)
                {
                    throw new InvalidOperationException("invariant violated");
                }
            }
        }

        class C
        {
            int Holds(MySqlDataSource ds)
            {
                var conn = ds.OpenConnection();
                var names = new List<string>();
                Invariant.Require(names.Count > 0, true);
                using (conn)
                {
                    return names.Count;
                }
            }

            int MayFail(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var names = new List<string>();
                Invariant.Require(true, names.Count > 0);
                using (conn)
                {
                    return names.Count;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 33"));

    [Fact]
    public Task Guard_helper_given_a_disjunction_deeper_than_the_reading_follows_may_throw() => Verify.VerifyAnalyzerAsync("""
        using System;
        using System.Collections.Generic;
        using MySqlConnector;

        static class Invariant
        {
            public static void Require(bool condition)
            {
                if (!condition)
                {
                    throw new InvalidOperationException("invariant violated");
                }
            }
        }

        class C
        {
            int TooDeepOnTheLeft(MySqlDataSource ds)
            {
                var conn = {|#0:ds.OpenConnection()|};
                var names = new List<string>();
                Invariant.Require(true || names.Count > 0 || names.Count > 1 || names.Count > 2 || names.Count > 3 || names.Count > 4 || names.Count > 5 || names.Count > 6 || names.Count > 7 || names.Count > 8 || names.Count > 9);
                using (conn)
                {
                    return names.Count;
                }
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 22"));

    [Fact]
    public Task Partial_method_whose_implementing_part_is_in_another_file_is_read_there()
    {
        var test = Verify.CreateTest("""
            using Prelude;

            partial class C
            {
                private partial void Finish(PooledConnection conn);

                int M(Pool pool)
                {
                    var conn = pool.GetConnection();
                    try
                    {
                        return conn.Execute("x");
                    }
                    finally
                    {
                        Finish(conn);
                    }
                }
            }
            """);
        test.TestState.Sources.Add(("/0/Other.cs", """
            using Prelude;

            partial class C
            {
                private partial void Finish(PooledConnection conn) => conn.Release();
            }
            """));
        return test.RunAsync(CancellationToken.None);
    }

    [Fact]
    public Task A_helper_s_open_connection_opened_again_only_when_closed_is_still_the_helper_s() =>
        // 'OpenOne' returns an open connection: the 'Open' behind the state test does not make the call a factory's.
        Verify.VerifyAnalyzerAsync("""
            using System.Data;
            using MySqlConnector;

            class C
            {
                static MySqlConnection OpenOne(string connectionString)
                {
                    var connection = new MySqlConnection(connectionString);
                    connection.Open();
                    return connection;
                }

                int Count(string connectionString)
                {
                    var conn = {|#0:OpenOne(connectionString)|};
                    if (conn.State != ConnectionState.Open)
                    {
                        conn.Open();
                        conn.Close();
                    }

                    return 1;
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'conn' from OpenOne()", "on the path that returns at line 22"));

    [Fact]
    public Task Out_acquisition_of_a_Try_method_whose_every_return_is_true_is_not_held_on_the_false_branch() =>
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class C
            {
                private static bool TryGet(Pool pool, out PooledConnection lease)
                {
                    lease = pool.GetConnection();
                    return true;
                }

                public int Run(Pool pool, bool skip)
                {
                    if (!TryGet(pool, out var lease)) { return 0; }
                    try { return skip ? 0 : lease.Execute("select 1"); } finally { lease.Release(); }
                }
            }
            """);

    [Fact]
    public Task Out_acquisition_of_a_Try_method_whose_every_return_is_false_is_not_held_on_the_true_branch() =>
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            class C
            {
                private static bool TryGet(Pool pool, out PooledConnection lease)
                {
                    lease = pool.GetConnection();
                    return false;
                }

                public int Run(Pool pool)
                {
                    if (TryGet(pool, out var lease)) { return lease.Execute("never"); }
                    try { return lease.Execute("select 1"); } finally { lease.Release(); }
                }
            }
            """);

    [Fact]
    public Task Constant_result_of_a_Try_method_is_read_through_a_local_a_const_and_is_false() =>
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            sealed class Checkout<T>
            {
                private const bool Acquired = true;
                private readonly Pool _primary = new();
                private readonly Pool _replica = new();

                public bool TryOpen(T key, bool replica, out PooledConnection lease)
                {
                    if (replica)
                    {
                        lease = _replica.GetConnection();
                        return true;
                    }

                    lease = _primary.GetConnection();
                    return Acquired;
                }

                public int First(T key)
                {
                    var ok = TryOpen(key, replica: false, out var lease);
                    if (!ok) return 0;
                    try { return lease.Execute("select 1"); } finally { lease.Release(); }
                }

                public int Second(T key)
                {
                    if (TryOpen(key, replica: true, out var lease) is false) return -1;
                    try { return lease.Execute("select 1"); } finally { lease.Release(); }
                }
            }
            """);

    [Fact]
    public Task Connection_a_helper_leaves_in_a_ref_parameter_is_held_by_the_callers_variable() =>
        Verify.VerifyAnalyzerAsync("""
            using Prelude;

            sealed class C
            {
                private readonly Pool _pool = new();

                private static void Swap(ref PooledConnection? target, PooledConnection value)
                {
                    target?.Release();
                    target = value;
                }

                public int Run()
                {
                    PooledConnection? current = null;
                    try
                    {
                        Swap(ref current, _pool.GetConnection());
                        return current!.Execute("select 1");
                    }
                    finally
                    {
                        current?.Release();
                    }
                }
            }
            """);
}
