using System.Reflection;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// Plays the caller of a type that owns a connection (<see cref="MemberKind.Lifecycle"/>): constructs it as a caller
/// would, calls the methods that store the connection only until the member holds one, then disposes the object
/// (<c>DisposeAsync</c> where it has one, as <c>await using</c> does) or calls its release method. What is still held
/// then is counted before anything is given back for the caller: the type's own release is all a caller has, and what
/// the type hands out (a property's connection, a method's result) is the type's to release, not the caller's.
/// </summary>
internal static class OwnerCaller
{
    private const BindingFlags Instance = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;

    private static readonly string[] ReleaseNames = ["CloseAsync", "Close", "ReleaseAsync", "Release"];

    public static async Task<Observation> RunAsync(ExecutionRun run, Assembly assembly, MemberUnderTest member, bool[] flags, Func<int> connectionsUsed)
    {
        run.Enter();
        var arguments = new Arguments(run, assembly, flags);
        var type = assembly.GetType(member.TypeName, throwOnError: true)!;
        var constructor = (ConstructorInfo)member.Find(type);
        var outcomes = new List<string>();
        var instances = new List<object>();
        object?[]? args = null;

        // Called twice: two objects made from the same arguments (the same pool), each through its whole lifecycle.
        for (var round = 0; round < (run.Mode == FaultMode.CalledTwice ? 2 : 1); round++)
        {
            object instance;
            try
            {
                args ??= arguments.For(constructor.GetParameters());
                instance = constructor.Invoke(args);
                instances.Add(instance);
            }
            catch (Exception ex) when (ex is not CannotRunException)
            {
                outcomes.Add("constructor threw " + Caller.Name(ex));
                continue;
            }

            // As 'using' would: the object is released however its use ends.
            var used = new List<string>();
            try
            {
                foreach (var use in Uses(type, member).TakeWhile(_ => !Holds(instance, member.Name)))
                {
                    used.Add(await Caller.UseAsync(use.Invoke(instance, arguments.For(use.GetParameters())), abandon: false, owned: []));
                }
            }
            catch (Exception ex) when (ex is not CannotRunException)
            {
                used.Add("threw " + Caller.Name(ex));
            }

            try
            {
                outcomes.Add($"used [{string.Join(", ", used)}], {await ReleaseAsync(instance)}");
            }
            catch (Exception ex) when (ex is not CannotRunException)
            {
                outcomes.Add($"used [{string.Join(", ", used)}], release threw {Caller.Name(ex)}");
            }
        }

        var leases = Caller.LeasesHeld(run, assembly);
        var connections = connectionsUsed();

        // The harness's own hygiene, not the caller's part: nothing a run made outlives it.
        await Caller.ReleaseAsync(Reachable.Resources(instances.Concat(arguments.Made)));
        await Caller.ReleaseAsync(arguments.Made.Where(m => m is IDisposable or IAsyncDisposable));
        return new Observation(string.Join("; ", outcomes), run.Trace, leases, connections, run.DoubleReleases, run.Acquisitions, ReturnedSequence: false, run.PeakHeld);
    }

    /// <summary>The methods that store a connection in the member, in declaration order.</summary>
    private static IEnumerable<MethodInfo> Uses(Type type, MemberUnderTest member) =>
        member.Uses.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(use => type.GetMethods(Instance)
            .FirstOrDefault(m => $"{m.Name}({string.Join(",", m.GetParameters().Select(p => p.Name))})" == use)
            ?? throw new InvalidOperationException($"{type.FullName} has no method {use} after the fix."));

    private static bool Holds(object instance, string name)
    {
        for (var type = instance.GetType(); type is not null; type = type.BaseType)
        {
            if (type.GetField(name, Instance | BindingFlags.DeclaredOnly) is { } field)
            {
                return field.GetValue(instance) is not null;
            }

            if (type.GetProperty(name, Instance | BindingFlags.DeclaredOnly) is { GetMethod: not null } property)
            {
                return property.GetValue(instance) is not null;
            }
        }

        return false;
    }

    /// <summary>Ends the object's life as its caller would; the outcome does not say how, as a fix may add the way.</summary>
    private static async Task<string> ReleaseAsync(object instance)
    {
        switch (instance)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                return "released";
            case IDisposable disposable:
                disposable.Dispose();
                return "released";
        }

        var release = ReleaseNames
            .Select(name => instance.GetType().GetMethod(name, BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes))
            .FirstOrDefault(m => m is not null);
        if (release is null)
        {
            return "nothing to release it with";
        }

        await Caller.UseAsync(release.Invoke(instance, null), abandon: false, owned: []);
        return "released";
    }
}
