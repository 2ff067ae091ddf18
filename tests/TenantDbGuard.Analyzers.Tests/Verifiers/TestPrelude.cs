using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TenantDbGuard.Analyzers.Tests.Verifiers;

/// <summary>
/// A pool-shaped API, referenced by every analyzer test as a compiled library: the shape that multi-tenant apps
/// wrap around MySqlConnector (a per-tenant pool whose connections go back with <c>Release()</c>). It is a
/// library, not a source file of the test, because TDG001 judges the compilation's own methods by their bodies
/// and applies the name rules (<c>GetConnection</c> returning a disposable) only to other assemblies.
/// </summary>
internal static class TestPrelude
{
    public const string Source = """
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using MySqlConnector;

        namespace Prelude
        {
            /// <summary>A pooled connection that goes back to its pool with Release(); not IDisposable.</summary>
            public sealed class PooledConnection
            {
                public MySqlConnection Inner { get; } = new MySqlConnection();
                public int Execute(string sql) => 0;
                public Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken = default) => Task.FromResult(0);
                public Task<T> QueryFirstAsync<T>(string sql) => Task.FromResult(default(T)!);
                public void Release() { }
            }

            /// <summary>A lease that is IDisposable and IAsyncDisposable.</summary>
            public sealed class ConnectionLease : IDisposable, IAsyncDisposable
            {
                public MySqlConnection Connection { get; } = new MySqlConnection();
                public string TenantKey { get; } = "t1";
                public int Execute(string sql) => 0;
                public Task<int> ExecuteAsync(string sql) => Task.FromResult(0);
                public void Dispose() { }
                public ValueTask DisposeAsync() => default;
            }

            /// <summary>Connection settings: a GetConnection that is not an acquisition.</summary>
            public sealed record ConnectionInfo(string Host, int Port);

            public sealed class Pool
            {
                public PooledConnection GetConnection() => new PooledConnection();
                public async Task<PooledConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
                {
                    await Task.Yield();
                    return new PooledConnection();
                }
                public string GetConnectionString() => "";
            }

            public sealed class LeasePool
            {
                public ConnectionLease GetConnection() => new ConnectionLease();
                public ValueTask<ConnectionLease> GetConnectionAsync(string tenant) => new(new ConnectionLease());
            }

            /// <summary>A factory whose GetConnection hands out a connection that is not open yet.</summary>
            public sealed class ConnectionFactory
            {
                public MySqlConnection GetConnection() => new MySqlConnection();
            }

            public sealed class Settings
            {
                public ConnectionInfo GetConnection() => new ConnectionInfo("localhost", 3306);
            }

            /// <summary>A library helper that gives back what it is passed under another name (an out parameter).</summary>
            public static class Handoff
            {
                public static void Pass(PooledConnection connection, out PooledConnection passed) => passed = connection;
            }

            /// <summary>A library's helpers: one that opens a connection it is given, one that never returns.</summary>
            public static class ConnectionHelpers
            {
                public static void EnsureOpen(System.Data.Common.DbConnection connection)
                {
                    if (connection.State != System.Data.ConnectionState.Open) connection.Open();
                }

                [System.Diagnostics.CodeAnalysis.DoesNotReturn]
                public static void Fail(string message) => throw new InvalidOperationException(message);
            }

            public static class Log
            {
                public static void Info(string message) { }
            }

            /// <summary>
            /// A library whose methods may keep what they are given, named as the fix's list of storing methods names
            /// them (a cache's Set, an event bus's Subscribe, ...): the fix cannot read their bodies.
            /// </summary>
            public sealed class Sink
            {
                public void Add(object value) { }
                public bool TryAdd(object value) => true;
                public void Insert(int index, object value) { }
                public void Enqueue(object value) { }
                public bool TryEnqueue(object value) => true;
                public void Push(object value) { }
                public void Set(string key, object value) { }
                public void SetResult(object value) { }
                public bool TrySetResult(object value) => true;
                public object GetOrAdd(string key, object value) => value;
                public object AddOrUpdate(string key, object value) => value;
                public bool TryUpdate(string key, object value) => true;
                public void Write(object value) { }
                public Task WriteAsync(object value) => Task.CompletedTask;
                public bool TryWrite(object value) => true;
                public bool Post(object value) => true;
                public Task<bool> SendAsync(object value) => Task.FromResult(true);
                public void Register(object value) { }
                public void Subscribe(object value) { }
                public void Attach(object value) { }
                public void Track(object value) { }
                public void Put(object value) { }
                public void Store(object value) { }
                public void Cache(object value) { }
            }
        }
        """;

    /// <summary>The prelude compiled once, in memory, against the other test references.</summary>
    public static MetadataReference Compile(ImmutableArray<MetadataReference> references)
    {
        var compilation = CSharpCompilation.Create(
            "TestPrelude",
            new[] { CSharpSyntaxTree.ParseText(Source, new CSharpParseOptions(LanguageVersion.Latest)) },
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        if (!result.Success)
        {
            throw new InvalidOperationException("The test prelude does not compile: " + string.Join(Environment.NewLine, result.Diagnostics));
        }

        return MetadataReference.CreateFromImage(image.ToArray());
    }
}
