using System.Collections;
using System.Data.Common;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using MySqlConnector;
using Prelude;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>A limit of the harness, not a behaviour of the code under test.</summary>
internal class CannotRunException(string message) : Exception(message);

/// <summary>What one run showed: how each call ended, what the code did, and what was still held afterwards.</summary>
internal sealed record Observation(string Outcome, IReadOnlyList<string> Trace, int LeasesHeld, int ConnectionsUsed, int DoubleReleases, int Acquisitions, bool ReturnedSequence, int PeakHeld = 0)
{
    /// <summary>Leases or physical connections nobody can release any more.</summary>
    public int Held => Math.Max(LeasesHeld, ConnectionsUsed);

    /// <summary>
    /// The run leaked, or used something after its release (a closed shared pool, a disposed connection): the misuse a
    /// fix is for. A fix may change the behaviour of such a run, and only of such a run.
    /// </summary>
    public bool Misbehaved => Held > 0 || Outcome.Contains(nameof(ObjectDisposedException), StringComparison.Ordinal);

    /// <summary>
    /// Ends the same way; with <paramref name="sameWork"/>, also runs the same commands and log lines (in any order:
    /// concurrent code interleaves them). Where a fault stops concurrent work, how much of it ran first is a race.
    /// </summary>
    public bool SameBehaviour(Observation other, bool sameWork) =>
        Outcome == other.Outcome && (!sameWork || Trace.Order(StringComparer.Ordinal).SequenceEqual(other.Trace.Order(StringComparer.Ordinal)));

    public override string ToString() =>
        $"{Outcome}; held {LeasesHeld} lease(s), {ConnectionsUsed} connection(s); released twice {DoubleReleases}; at most {PeakHeld} held at once; trace [{string.Join(" | ", Trace)}]";
}

/// <summary>
/// Plays a careful caller: calls the member, awaits it, reads what it returns (a sequence to its end or to its first
/// item, a reader's rows, a returned callback), then gives back what it was handed and what its objects keep, as an
/// owner would. Whatever is still held after that is a leak.
/// </summary>
internal static class Caller
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<Observation> RunAsync(CaseAssembly code, MemberUnderTest member, FaultMode mode, bool[] flags, string? poolName)
    {
        var connectionString = poolName is null ? null : await SharedMariaDb.ConnectionStringAsync(poolName);
        var run = new ExecutionRun(mode, connectionString);
        var assembly = code.Load(out var context);
        run.CallsRuntime = assembly.GetReferencedAssemblies().Any(a => a.Name == typeof(TenantDatabase).Assembly.GetName().Name);
        int UsedConnections() => poolName is null ? 0 : MySqlProbe.UsedConnections(poolName);
        try
        {
            MySqlProbe.EnsureStarted();
            var observation = await Task.Run(() => member.Kind == MemberKind.Lifecycle
                ? OwnerCaller.RunAsync(run, assembly, member, flags, UsedConnections)
                : RunInsideAsync(run, assembly, member, flags)).WaitAsync(Timeout);
            return observation with { ConnectionsUsed = Math.Max(observation.ConnectionsUsed, UsedConnections()) };
        }
        catch (TimeoutException)
        {
            throw new CannotRunException($"{member} did not finish within {Timeout.TotalSeconds:0} s ({mode}).");
        }
        finally
        {
            foreach (var lease in run.Leases)
            {
                lease.Release(idempotent: true);
            }

            if (connectionString is not null)
            {
                if (MySqlProbe.UsedConnections(poolName!) > 0)
                {
                    // Connections the code leaked: once collected, clearing the pool closes them on the server.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }

                await MySqlConnection.ClearPoolAsync(new MySqlConnection(connectionString));
            }

            context.Unload();
        }
    }

    private static async Task<Observation> RunInsideAsync(ExecutionRun run, Assembly assembly, MemberUnderTest member, bool[] flags)
    {
        run.Enter();
        var arguments = new Arguments(run, assembly, flags);
        var type = member.Kind == MemberKind.EntryPoint ? null : assembly.GetType(member.TypeName, throwOnError: true)!;
        var target = type is null ? assembly.EntryPoint! : member.Find(type);
        var owned = new List<object?>();
        var outcomes = new List<string>();
        var returnedSequence = false;
        object? instance = null;
        try
        {
            if (type is not null && member.Kind != MemberKind.Constructor && !member.IsStatic(type))
            {
                instance = arguments.Make(type, "instance", 1);
            }

            // A caller that calls twice passes the same things twice: the same pool, the same data source.
            object?[]? args = null;
            for (var call = 0; call < (run.Mode == FaultMode.CalledTwice ? 2 : 1); call++)
            {
                try
                {
                    object? value;
                    (value, args) = Invoke(target, instance, arguments, args);
                    owned.AddRange(args);
                    returnedSequence |= IsSequence(value);
                    outcomes.Add(await UseAsync(value, run.Mode == FaultMode.SequenceAbandoned, owned));
                }
                catch (Exception ex) when (ex is not CannotRunException)
                {
                    outcomes.Add("threw " + Name(ex));
                }
            }
        }
        catch (TargetInvocationException ex) when (ex.InnerException is { } inner)
        {
            outcomes.Add("setup threw " + Name(inner));
        }

        // The caller's part: give back what it was handed, dispose its object, and release what they still keep.
        var cleanup = await ReleaseAsync(owned.Append(instance));
        var statics = assembly.GetTypes()
            .Where(t => !t.ContainsGenericParameters)
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(f => !f.IsLiteral)
            .Select(f => f.GetValue(null));
        cleanup += await ReleaseAsync(Reachable.Resources(owned.Append(instance).Concat(arguments.Made).Concat(statics)));
        if (cleanup.Length > 0)
        {
            outcomes.Add("cleanup" + cleanup);
        }

        var held = LeasesHeld(run, assembly);
        await ReleaseAsync(arguments.Made.Where(m => m is IDisposable or IAsyncDisposable));
        return new Observation(string.Join("; ", outcomes), run.Trace, held, 0, run.DoubleReleases, run.Acquisitions, returnedSequence, run.PeakHeld);
    }

    /// <summary>Leases of the Prelude still held, and those a test's own <c>ExecutionSetup.Held()</c> counts (a TenantDatabase's, say).</summary>
    public static int LeasesHeld(ExecutionRun run, Assembly assembly) =>
        run.Leases.Count(l => !l.IsReleased) + assembly.GetTypes()
            .Where(t => t.Name == "ExecutionSetup")
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(m => m.Name == "Held" && m.ReturnType == typeof(int) && m.GetParameters().Length == 0)
            .Sum(m => (int)m.Invoke(null, null)!);

    private static (object? Value, object?[] Args) Invoke(MemberInfo target, object? instance, Arguments arguments, object?[]? reused)
    {
        if (target is MethodInfo { IsGenericMethodDefinition: true } open)
        {
            target = Close(open);
        }

        // Arguments are passed again unless the call writes into them (out, ref): each call's results stay the caller's.
        var writes = target is MethodBase { } withParameters && withParameters.GetParameters().Any(p => p.ParameterType.IsByRef);
        var args = (writes ? null : reused) ?? target switch
        {
            MethodBase method when method == method.Module.Assembly.EntryPoint && method.GetParameters().Length == 1 => [Array.Empty<string>()],
            MethodBase method => arguments.For(method.GetParameters()),
            _ => [],
        };
        try
        {
            var value = target switch
            {
                ConstructorInfo constructor => constructor.Invoke(args),
                PropertyInfo property => property.GetValue(instance),
                MethodInfo method => method.Invoke(instance, args),
                _ => throw new CannotRunException($"Cannot call {target}."),
            };
            return (value, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is { } inner)
        {
            ExceptionDispatchInfo.Throw(inner);
            throw;
        }
    }

    /// <summary>A generic method runs with the first of the usual connection types its constraints accept.</summary>
    private static MethodInfo Close(MethodInfo method)
    {
        Type[] candidates = [typeof(MySqlConnection), typeof(PooledConnection), typeof(ConnectionLease), typeof(string), typeof(int), typeof(object)];
        foreach (var candidate in candidates)
        {
            try
            {
                return method.MakeGenericMethod(method.GetGenericArguments().Select(_ => candidate).ToArray());
            }
            catch (ArgumentException)
            {
            }
        }

        throw new CannotRunException($"No type argument fits {method}.");
    }

    private static bool IsSequence(object? value) =>
        value is DbDataReader || (value is IEnumerable && value is not string) || AsyncEnumerable(value) is not null;

    /// <summary>Uses a value as a caller would and describes what it saw.</summary>
    public static async Task<string> UseAsync(object? value, bool abandon, List<object?> owned)
    {
        switch (value)
        {
            case null:
                return "null";
            case Task task:
                await task;
                var result = task.GetType().GetProperty("Result")?.GetValue(task);
                return result is null || result.GetType().Name == "VoidTaskResult" ? "done" : await UseAsync(result, abandon, owned);
            case ValueTask valueTask:
                await valueTask;
                return "done";
            case string or decimal or DateTime or Enum or ConnectionInfo:
                return Convert.ToString(value, CultureInfo.InvariantCulture)!;
            case var primitive when primitive.GetType().IsPrimitive:
                return Convert.ToString(value, CultureInfo.InvariantCulture)!;
            case PooledConnection or ConnectionLease or MySqlConnection:
                owned.Add(value);
                return Resource(value);
            case DbDataReader reader:
                owned.Add(reader);
                var rows = new List<string>();
                while ((!abandon || rows.Count == 0) && await reader.ReadAsync())
                {
                    rows.Add(string.Join(",", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
                }

                await reader.DisposeAsync();
                return $"reader[{string.Join(" ", rows)}]";
            case Delegate callback when callback.Method.GetParameters().Length == 0:
                owned.Add(callback);
                return "callback: " + await UseAsync(callback.DynamicInvoke(), abandon, owned);
        }

        if (value.GetType() is { IsGenericType: true } generic && generic.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            return await UseAsync(generic.GetMethod("AsTask")!.Invoke(value, null), abandon, owned);
        }

        if (value is ITuple tuple)
        {
            var items = new List<string>();
            for (var i = 0; i < tuple.Length; i++)
            {
                items.Add(await UseAsync(tuple[i], abandon, owned));
            }

            return $"({string.Join(", ", items)})";
        }

        if (AsyncEnumerable(value) is { } asyncItems)
        {
            return await ReadAsync(asyncItems, abandon, owned);
        }

        if (value is IEnumerable sequence)
        {
            return await ReadAsync(Wrap(sequence), abandon, owned);
        }

        owned.Add(value);
        var type = value.GetType();
        return type.GetMethod("ToString", Type.EmptyTypes)?.DeclaringType == type ? value.ToString()! : type.Name;
    }

    private static string Resource(object value) => value switch
    {
        PooledConnection pooled => $"{nameof(PooledConnection)}({pooled.Lease})",
        ConnectionLease lease => $"{nameof(ConnectionLease)}({lease.Lease})",
        MySqlConnection connection => $"{nameof(MySqlConnection)}({connection.State})",
        _ => value.GetType().Name,
    };

    private static async Task<string> ReadAsync(IAsyncEnumerable<object?> items, bool abandon, List<object?> owned)
    {
        var seen = new List<string>();
        await foreach (var item in items)
        {
            seen.Add(await UseAsync(item, abandon: false, owned));
            if (abandon)
            {
                break;
            }
        }

        return $"[{string.Join(", ", seen)}]";
    }

#pragma warning disable CS1998 // An iterator over a synchronous sequence.
    private static async IAsyncEnumerable<object?> Wrap(IEnumerable sequence)
#pragma warning restore CS1998
    {
        var enumerator = sequence.GetEnumerator();
        try
        {
            while (enumerator.MoveNext())
            {
                yield return enumerator.Current;
            }
        }
        finally
        {
            (enumerator as IDisposable)?.Dispose();
        }
    }

    /// <summary>Any <c>IAsyncEnumerable&lt;T&gt;</c> as one of objects (the item type is the test's own).</summary>
    private static IAsyncEnumerable<object?>? AsyncEnumerable(object? value)
    {
        var itemType = value?.GetType().GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>))
            ?.GetGenericArguments()[0];
        return itemType is null
            ? null
            : (IAsyncEnumerable<object?>)typeof(Caller).GetMethod(nameof(Box), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(itemType).Invoke(null, [value])!;
    }

    private static async IAsyncEnumerable<object?> Box<T>(IAsyncEnumerable<T> items)
    {
        await foreach (var item in items)
        {
            yield return item;
        }
    }

    /// <summary>Releases each value the way its type is given back; returns what went wrong, for the outcome.</summary>
    public static async Task<string> ReleaseAsync(IEnumerable<object?> values)
    {
        var problems = string.Empty;
        foreach (var value in values.Where(v => v is not null).Distinct(ReferenceEqualityComparer.Instance))
        {
            try
            {
                switch (value)
                {
                    case PooledConnection pooled:
                        pooled.Lease.Release(idempotent: true);
                        break;
                    case ConnectionLease lease:
                        lease.Lease.Release(idempotent: true);
                        break;
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync();
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                    default:
                        var release = value!.GetType().GetMethod("Release", Type.EmptyTypes);
                        release?.Invoke(value, null);
                        break;
                }
            }
            catch (Exception ex)
            {
                problems += $" {value!.GetType().Name} threw {Name(ex)}";
            }
        }

        return problems;
    }

    /// <summary>The exception's type; a cancelled task counts as a cancellation, however it was observed.</summary>
    public static string Name(Exception exception)
    {
        while (exception is TargetInvocationException { InnerException: { } inner })
        {
            exception = inner;
        }

        return exception is OperationCanceledException ? nameof(OperationCanceledException) : exception.GetType().Name;
    }
}
