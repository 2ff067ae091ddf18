using System.Threading.Tasks;
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
    public Task Stored_in_a_collection_type_is_not_reported(string store) => Verify.VerifyAnalyzerAsync($$"""
        using System.Collections;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
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
    public Task Passed_to_a_method_that_only_shares_a_name_with_a_collection_method_is_reported(string call) =>
        Verify.VerifyAnalyzerAsync($$"""
            using System;
            using System.Text;
            using Prelude;

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
            """, Verify.Diagnostic().WithLocation(0).WithArguments("'conn'", "on the path that leaves the method after line 21"));

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
}
