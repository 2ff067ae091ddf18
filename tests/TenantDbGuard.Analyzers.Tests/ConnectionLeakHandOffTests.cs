using System.Threading.Tasks;
using TenantDbGuard.Analyzers.Tests.Verifiers;
using Verify = TenantDbGuard.Analyzers.Tests.Verifiers.CSharpAnalyzerVerifier<TenantDbGuard.Analyzers.ConnectionLeakAnalyzer>;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// A connection passed to a method is handed off only when the method stores it in a collection (judged by the
/// receiver's type, not the method's name) or, for the compilation's own methods, when the body keeps it.
/// </summary>
public sealed class ConnectionLeakHandOffTests
{
    [Theory]
    [InlineData("dictionary.Add(tenant, conn);")]
    [InlineData("dictionary.TryAdd(tenant, conn);")]
    [InlineData("idictionary.Add(tenant, conn);")]
    [InlineData("collection.Add(conn);")]
    [InlineData("set.Add(conn);")]
    [InlineData("linked.AddLast(conn);")]
    [InlineData("concurrentQueue.Enqueue(conn);")]
    [InlineData("concurrentStack.Push(conn);")]
    [InlineData("concurrent.GetOrAdd(tenant, conn);")]
    [InlineData("blocking.Add(conn);")]
    [InlineData("priority.Enqueue(conn, 1);")]
    [InlineData("channel.Writer.TryWrite(conn);")]
    [InlineData("arrayList.Add(conn);")]
    [InlineData("linked.AddFirst(conn);")]
    [InlineData("list.Insert(0, conn);")]
    [InlineData("concurrent.AddOrUpdate(tenant, conn, (key, old) => old);")]
    [InlineData("concurrent.TryUpdate(tenant, conn, concurrent[tenant]);")]
    [InlineData("_ = channel.Writer.WriteAsync(conn);")]
    [InlineData("weak.Add(tenant, conn);")]
    [InlineData("weak.AddOrUpdate(tenant, conn);")]
    [InlineData("list.AddRange(new[] { conn });")]
    [InlineData("list.AddRange(new PooledConnection[] { conn });")]
    public Task Stored_in_a_collection_type_is_not_reported(string store) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Runtime.CompilerServices;
        using System.Threading.Channels;
        using Prelude;

        sealed class Registry
        {
            private readonly Dictionary<string, PooledConnection> dictionary = new();
            private readonly IDictionary<string, PooledConnection> idictionary = new Dictionary<string, PooledConnection>();
            private readonly ICollection<PooledConnection> collection = new List<PooledConnection>();
            private readonly HashSet<PooledConnection> set = new();
            private readonly LinkedList<PooledConnection> linked = new();
            private readonly ConcurrentQueue<PooledConnection> concurrentQueue = new();
            private readonly ConcurrentStack<PooledConnection> concurrentStack = new();
            private readonly ConcurrentDictionary<string, PooledConnection> concurrent = new();
            private readonly BlockingCollection<PooledConnection> blocking = new();
            private readonly PriorityQueue<PooledConnection, int> priority = new();
            private readonly Channel<PooledConnection> channel = Channel.CreateUnbounded<PooledConnection>();
            private readonly ArrayList arrayList = new();
            private readonly List<PooledConnection> list = new();
            private readonly ConditionalWeakTable<string, PooledConnection> weak = new();

            public void Track(Pool pool, string tenant)
            {
                var conn = pool.GetConnection();
                {{store}}
            }
        }
        """);

    [Fact]
    public Task Stored_in_a_collection_given_as_a_constrained_type_parameter_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        static class Registry
        {
            public static void Track<TCollection>(Pool pool, TCollection connections)
                where TCollection : ICollection<PooledConnection>
            {
                var conn = pool.GetConnection();
                connections.Add(conn);
            }
        }
        """);

    [Theory]
    [InlineData("Console.Out.Write(conn);")]
    [InlineData("new StringBuilder().Insert(0, conn);")]
    [InlineData("audit.Set(\"last\", conn);")]
    [InlineData("audit.Add(conn);")]
    [InlineData("audit.Push(conn);")]
    [InlineData("Batch.Add(conn, \"opened\");")]
    public Task Passed_to_a_method_that_only_shares_a_name_with_a_collection_method_is_reported(string call) =>
        Verify.VerifyAnalyzerAsync($$"""
            using System;
            using System.Collections.Generic;
            using System.Text;
            using Prelude;

            // A collection type with a static 'Add' of its own: a static method has no collection to store into.
            sealed class Batch : List<PooledConnection>
            {
                public static void Add(PooledConnection connection, string note) => Log.Info(note + " " + connection);
            }

            sealed class AuditTrail
            {
                public void Set(string key, object value) => Log.Info(key + "=" + value);

                public void Add(object value) => Log.Info("added " + value);

                public void Push(object value) => Log.Info("pushed " + value);
            }

            sealed class C
            {
                private readonly AuditTrail audit = new();

                public void M(Pool pool)
                {
                    var conn = {|#0:pool.GetConnection()|};
                    {{call}}
                }
            }
            """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 28"));

    [Fact]
    public Task Passed_by_value_to_a_framework_method_that_keeps_nothing_is_reported() => Verify.VerifyAnalyzerAsync("""
        using System;
        using Prelude;

        class C
        {
            int M(Pool pool)
            {
                var conn = {|#0:pool.GetConnection()|};
                Console.WriteLine(conn);
                return conn.Execute("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 10"));

    [Fact]
    public Task Passed_to_a_method_of_the_code_that_stores_it_in_a_collection_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        sealed class AuditTrail
        {
            private readonly Dictionary<string, PooledConnection> _last = new();

            public void Set(string key, PooledConnection value) => _last[key] = value;
        }

        sealed class C
        {
            private readonly AuditTrail audit = new();

            public void M(Pool pool)
            {
                var conn = pool.GetConnection();
                audit.Set("last", conn);
            }
        }
        """);

    // ---------------------------------------------------------------- arrays built for a call
    // C# 12 binds 'Task.WhenAll(a, b)' to 'params Task[]' (an array the compiler builds), C# 13 to
    // 'params ReadOnlySpan<Task>': the verdict must not depend on which.

    [Fact]
    public Task Put_in_an_object_the_method_made_and_dropped_is_reported_and_released_through_it_is_not() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Session
        {
            public MySqlConnection Connection { get; set; }
        }

        class C
        {
            int Dropped(MySqlDataSource dataSource)
            {
                var conn = {|#0:dataSource.OpenConnection()|};
                var session = new Session();
                session.Connection = conn;
                return session.GetHashCode();
            }

            int Released(MySqlDataSource dataSource)
            {
                var session = new Session();
                session.Connection = dataSource.OpenConnection();
                try
                {
                    return session.GetHashCode();
                }
                finally
                {
                    session.Connection.Dispose();
                }
            }
        }
        """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that returns at line 15"));

    [Theory]
    [InlineData("_session = new Session { Connection = conn };")]
    [InlineData("var session = new Session(); session.Connection = conn; _session = session;")]
    [InlineData("_structs.Add(new Holder { Connection = conn });")]
    public Task Put_in_an_object_of_the_code_built_by_its_implicit_constructor_and_stored_is_not_reported(string store) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections.Generic;
        using MySqlConnector;

        sealed class Session
        {
            public MySqlConnection Connection { get; set; }
        }

        struct Holder
        {
            public MySqlConnection Connection;
        }

        class C
        {
            private Session _session;
            private readonly List<Holder> _structs = new();

            void M(MySqlDataSource dataSource, string tenant)
            {
                var conn = dataSource.OpenConnection();
                try
                {
                    conn.ChangeDatabase(tenant);
                }
                catch
                {
                    conn.Dispose();
                    throw;
                }

                {{store}}
            }
        }
        """);

    [Fact]
    public Task Put_in_an_object_whose_implicit_constructor_runs_a_computing_initializer_is_reported() => Verify.VerifyAnalyzerAsync("""
        using MySqlConnector;

        sealed class Session
        {
            public MySqlConnection Connection { get; set; }
            public string Tenant { get; } = System.Environment.GetEnvironmentVariable("TENANT");
        }

        class C
        {
            private Session _session;

            void M(MySqlDataSource dataSource)
            {
                var conn = {|#0:dataSource.OpenConnection()|};
                _session = new Session { Connection = conn };
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "if an exception is thrown at line 16"));

    [Theory]
    [InlineCSharp(12)]
    [InlineCSharp(13)]
    public Task A_lease_awaited_through_WhenAll_and_never_released_is_reported(int languageVersion) => Verify.VerifyAnalyzerAsync(languageVersion, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            async Task<int> Copy(LeasePool pool, Task audit)
            {
                var pending = {|#0:pool.GetConnectionAsync("t2")|}.AsTask();
                await Task.WhenAll(audit, pending);
                var target = await pending;
                return await target.ExecuteAsync("select 1");
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'pending'", "on the path that returns at line 11"));

    [Theory]
    [InlineCSharp(12, "await Task.WhenAll(new[] { audit, pending });")]
    [InlineCSharp(12, "await Task.WhenAll(new Task[] { audit, pending });")]
    [InlineCSharp(12, "await Task.WhenAll([audit, pending]);")]
    [InlineCSharp(13, "await Task.WhenAll([audit, pending]);")]
    [InlineCSharp(12, "await Task.WhenAny(audit, pending);")]
    [InlineCSharp(13, "await Task.WhenAny(audit, pending);")]
    [InlineCSharp(12, "Log.Info(string.Join(\", \", audit, pending));")]
    [InlineCSharp(13, "Log.Info(string.Join(\", \", audit, pending));")]
    public Task A_lease_in_an_array_given_to_a_call_that_does_not_keep_it_is_reported(int languageVersion, string call) =>
        Verify.VerifyAnalyzerAsync(languageVersion, $$"""
            using System.Threading.Tasks;
            using Prelude;

            class C
            {
                async Task<int> Copy(LeasePool pool, Task audit)
                {
                    var pending = {|#0:pool.GetConnectionAsync("t2")|}.AsTask();
                    {{call}}
                    var target = await pending;
                    return await target.ExecuteAsync("select 1");
                }
            }
            """,
            Verify.Diagnostic().WithLocation(0).WithArguments("'pending'", "on the path that returns at line 11"));

    [Theory]
    [InlineCSharp(12, "_kept.Add(new[] { first, second });")]
    [InlineCSharp(13, "_kept.Add(new[] { first, second });")]
    [InlineCSharp(12, "_last = new[] { first, second };")]
    [InlineCSharp(12, "Keep(first, second);")]
    [InlineCSharp(13, "Keep(first, second);")]
    [InlineCSharp(12, "_kept.Add([first, second]);")]
    public Task A_lease_in_an_array_that_is_kept_is_not_reported(int languageVersion, string store) => Verify.VerifyAnalyzerAsync(languageVersion, $$"""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            private readonly List<ConnectionLease[]> _kept = new();
            private ConnectionLease[] _last = [];
            private ConnectionLease[] _params = [];

            void Keep(params ConnectionLease[] leases) => _params = leases;

            void Open(LeasePool pool, ConnectionLease first)
            {
                var second = pool.GetConnection();
                {{store}}
            }
        }
        """);

    [Theory]
    [InlineCSharp(12)]
    [InlineCSharp(13)]
    public Task A_lease_in_an_array_that_is_returned_is_not_reported(int languageVersion) => Verify.VerifyAnalyzerAsync(languageVersion, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            ConnectionLease[] Both(LeasePool pool, ConnectionLease first) => new[] { first, pool.GetConnection() };

            Task<ConnectionLease[]> BothAsync(LeasePool pool)
            {
                var first = pool.GetConnectionAsync("t1").AsTask();
                return Task.WhenAll(first);
            }

            private Task<ConnectionLease>? _first;

            void Start(LeasePool pool, Task<ConnectionLease> other)
            {
                var next = pool.GetConnectionAsync("t1").AsTask();
                _first = Task.WhenAny(other, next).Unwrap();
            }
        }
        """);

    [Theory]
    [InlineCSharp(12)]
    [InlineCSharp(13)]
    public Task A_task_of_WhenAll_without_results_that_is_returned_does_not_hand_the_lease_over(int languageVersion) => Verify.VerifyAnalyzerAsync(languageVersion, """
        using System.Threading.Tasks;
        using Prelude;

        class C
        {
            // 'Task.WhenAll(Task, Task)' returns a Task without results: the caller never sees the lease.
            Task Both(LeasePool pool, Task audit)
            {
                var pending = {|#0:pool.GetConnectionAsync("t1")|}.AsTask();
                return Task.WhenAll(audit, pending);
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'pending'", "on the path that returns at line 10"));

    [Theory]
    [InlineCSharp(12)]
    [InlineCSharp(13)]
    public Task Leases_given_to_a_method_of_the_code_that_releases_every_element_are_not_reported(int languageVersion) => Verify.VerifyAnalyzerAsync(languageVersion, """
        using System;
        using Prelude;

        class C
        {
            static void CloseAll(params IDisposable[] items)
            {
                foreach (var item in items)
                {
                    item.Dispose();
                }
            }

            void Copy(LeasePool pool, ConnectionLease first)
            {
                var second = pool.GetConnection();
                CloseAll(first, second);
            }
        }
        """);

    [Theory]
    [InlineCSharp(13, "params ReadOnlySpan<IDisposable> items", "CloseAll(first, second);")]
    [InlineCSharp(13, "ReadOnlySpan<IDisposable> items", "CloseAll([first, second]);")]
    [InlineCSharp(13, "params List<IDisposable> items", "CloseAll(first, second);")]
    [InlineCSharp(13, "IDisposable[] items", "CloseAll([first, second]);")]
    public Task Leases_given_in_a_collection_expression_to_a_method_of_the_code_that_releases_every_element_are_not_reported(int languageVersion, string parameter, string call) =>
        Verify.VerifyAnalyzerAsync(languageVersion, $$"""
        using System;
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            static void CloseAll({{parameter}})
            {
                foreach (var item in items)
                {
                    item.Dispose();
                }
            }

            void Copy(LeasePool pool, ConnectionLease first)
            {
                var second = pool.GetConnection();
                {{call}}
            }
        }
        """);

    [Theory]
    [InlineCSharp(13, "var copies = new ConnectionLease[] { second };")]
    [InlineCSharp(13, "ConnectionLease[] copies = [second];")]
    [InlineCSharp(13, "List<ConnectionLease> copies = [second];")]
    public Task Leases_kept_in_an_array_or_a_collection_expression_are_not_reported(int languageVersion, string keep) =>
        Verify.VerifyAnalyzerAsync(languageVersion, $$"""
        using System.Collections.Generic;
        using Prelude;

        class C
        {
            void Copy(LeasePool pool)
            {
                var second = pool.GetConnection();
                {{keep}}
                foreach (var copy in copies)
                {
                    copy.Dispose();
                }
            }
        }
        """);

    [Fact]
    public Task Given_to_an_operator_of_the_code_that_stores_it_is_not_reported() => Verify.VerifyAnalyzerAsync("""
        using System.Collections.Generic;
        using Prelude;

        sealed class Batch
        {
            public List<PooledConnection> Items { get; } = new();

            public static Batch operator +(Batch batch, PooledConnection connection)
            {
                batch.Items.Add(connection);
                return batch;
            }
        }

        class C
        {
            private Batch _batch = new();

            void Park(Pool pool)
            {
                var conn = pool.GetConnection();
                _batch += conn;
            }
        }
        """);

    [Fact]
    public Task Given_to_an_operator_of_the_code_that_only_reads_it_is_reported() => Verify.VerifyAnalyzerAsync("""
        using Prelude;

        sealed class Tally
        {
            public int Count { get; private set; }

            public static Tally operator +(Tally tally, PooledConnection connection)
            {
                tally.Count += connection.Execute("select 1");
                return tally;
            }
        }

        class C
        {
            void Count(Pool pool, Tally tally)
            {
                var conn = {|#0:pool.GetConnection()|};
                tally += conn;
            }
        }
        """,
        Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 19"));
}
