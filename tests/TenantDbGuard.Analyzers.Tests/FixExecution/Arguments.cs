using System.Collections;
using System.Data;
using System.Data.Common;
using System.Linq.Expressions;
using System.Reflection;
using MySqlConnector;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>The run needs MariaDB (a connection string, a data source, a connection) and runs in memory.</summary>
internal sealed class NeedsDatabaseException(string what) : Exception($"{what} needs the MariaDB run.");

/// <summary>
/// Makes the arguments (and the instance) the caller passes: the runnable Prelude's pools, a data source or connection
/// string of the run's MariaDB pool, two tenants for a loop, the run's token, flags as the run asks. A type the harness
/// cannot make comes from a static <c>ExecutionSetup</c> class in the test code: any static method of it that returns
/// the type, with parameters made the same way. (A static <c>int Held()</c> of that class adds what it counts to the
/// connections the run still holds.)
/// </summary>
internal sealed class Arguments
{
    private readonly ExecutionRun _run;
    private readonly Assembly _assembly;
    private readonly bool[] _flags;
    private int _nextFlag;

    public Arguments(ExecutionRun run, Assembly assembly, bool[] flags)
    {
        _run = run;
        _assembly = assembly;
        _flags = flags;
    }

    /// <summary>What the harness made: disposed after the run, and searched for connections the caller owns.</summary>
    public List<object> Made { get; } = [];

    /// <summary>The arguments of one call: its <c>bool</c> parameters take the run's flags in order.</summary>
    public object?[] For(IEnumerable<ParameterInfo> parameters)
    {
        _nextFlag = 0;
        return parameters.Select(p => p.IsOut ? null : Make(p.ParameterType, p.Name ?? string.Empty, 0)).ToArray();
    }

    public object? Make(Type type, string name, int depth)
    {
        if (depth > 4)
        {
            throw new CannotRunException($"The execution check gives up making a {type} for '{name}': too deep.");
        }

        var element = ElementType(type);
        var made = type switch
        {
            _ when type == typeof(CancellationToken) => _run.Cancellation.Token,
            _ when type == typeof(bool) => depth == 0 && _nextFlag < _flags.Length && _flags[_nextFlag++],
            _ when type == typeof(string) => Text(name, 0),
            _ when type.IsPrimitive || type == typeof(decimal) => Convert.ChangeType(2, type, System.Globalization.CultureInfo.InvariantCulture),
            _ when type.IsEnum => Enum.GetValues(type).GetValue(0),
            _ when Nullable.GetUnderlyingType(type) is { } inner => Make(inner, name, depth + 1),
            _ when type == typeof(object) => new object(),
            _ when element is not null => Sequence(type, element, name),
            _ when typeof(DbDataSource).IsAssignableFrom(type) || type == typeof(MySqlDataSource) => new MySqlDataSource(ConnectionString(type)),
            _ when type == typeof(MySqlConnection) || type == typeof(DbConnection) || type == typeof(IDbConnection) => new MySqlConnection(ConnectionString(type)),
            _ => Factory(type, depth) ?? (typeof(Delegate).IsAssignableFrom(type) ? NoOp(type) : Construct(type, depth)),
        };
        if (made is not null && !type.IsValueType && type != typeof(string))
        {
            Made.Add(made);
        }

        return made;
    }

    private string ConnectionString(Type type) => _run.ConnectionString ?? throw new NeedsDatabaseException(type.Name);

    /// <summary>Strings by what the parameter is called: a connection string, SQL, else a tenant (one of the two databases).</summary>
    private string Text(string name, int index)
    {
        var lower = name.ToLowerInvariant();
        if (lower.Contains("connectionstring") || lower is "cs" or "connstr")
        {
            return ConnectionString(typeof(string));
        }

        string[] sqlWords = ["sql", "statement", "query", "command", "script", "batch"];
        return sqlWords.Any(lower.Contains) ? "SELECT 1" : index == 0 ? SharedMariaDb.Database : SharedMariaDb.SecondDatabase;
    }

    private object Sequence(Type type, Type element, string name)
    {
        var items = Array.CreateInstance(element, 2);
        for (var i = 0; i < 2; i++)
        {
            items.SetValue(element == typeof(string) ? Text(name, i) : Make(element, name, 1), i);
        }

        return type.IsArray || type.IsInterface ? items : Activator.CreateInstance(type, items)!;
    }

    private static Type? ElementType(Type type)
    {
        if (type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        if (type.IsArray)
        {
            return type.GetElementType();
        }

        return type.IsGenericType && type.GetGenericArguments() is [var single] && (type.IsInterface || type.GetGenericTypeDefinition() == typeof(List<>)) ? single : null;
    }

    private object? Factory(Type type, int depth)
    {
        var factory = _assembly.GetTypes()
            .Where(t => t.Name == "ExecutionSetup")
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .FirstOrDefault(m => type.IsAssignableFrom(m.ReturnType));
        return factory?.Invoke(null, factory.GetParameters().Select(p => Make(p.ParameterType, p.Name ?? string.Empty, depth + 1)).ToArray());
    }

    /// <summary>A callback that does nothing and returns a default result (a completed task for a task).</summary>
    private static Delegate NoOp(Type type)
    {
        var invoke = type.GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var result = invoke.ReturnType;
        Expression body = result == typeof(void) ? Expression.Empty()
            : result == typeof(Task) ? Expression.Constant(Task.CompletedTask)
            : result.IsGenericType && result.GetGenericTypeDefinition() == typeof(Task<>)
                ? Expression.Call(typeof(Task), nameof(Task.FromResult), [result.GetGenericArguments()[0]], Expression.Default(result.GetGenericArguments()[0]))
                : Expression.Default(result);
        return Expression.Lambda(type, body, parameters).Compile();
    }

    private object Construct(Type type, int depth)
    {
        var concrete = type.IsAbstract || type.IsInterface
            ? _assembly.GetTypes().SingleOrDefault(t => !t.IsAbstract && type.IsAssignableFrom(t))
            : type;
        var constructor = concrete?.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .OrderByDescending(c => c.IsPublic)
            .ThenBy(c => c.GetParameters().Length)
            .FirstOrDefault();
        if (constructor is null || typeof(Delegate).IsAssignableFrom(type))
        {
            throw new CannotRunException(
                $"The execution check cannot make a {type} argument: add a static ExecutionSetup class with a method that returns one, or opt the test out with a reason.");
        }

        return constructor.Invoke(constructor.GetParameters().Select(p => Make(p.ParameterType, p.Name ?? string.Empty, depth + 1)).ToArray());
    }
}
