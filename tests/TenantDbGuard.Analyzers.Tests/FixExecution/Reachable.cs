using System.Data.Common;
using System.Reflection;
using MySqlConnector;
using Prelude;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// The connections an owner can still reach from the objects it holds (fields, arrays, collections, closures,
/// iterators): these are owned, not leaked, and the caller releases them. A reader comes before a connection.
/// The walk does not go inside the runtime's own objects (a <c>TenantDatabase</c> the caller passed in owns its
/// physical connections, may still be opening or resetting one in the background, and is disposed as a whole); a
/// lease of the runtime that the code keeps is a resource like any other.
/// </summary>
internal static class Reachable
{
    private const int MaxObjects = 200_000;

    public static IEnumerable<object> Resources(IEnumerable<object?> roots)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var found = new List<object>();
        var pending = new Stack<object>(roots.Where(r => r is not null)!);
        while (pending.Count > 0 && seen.Count < MaxObjects)
        {
            var current = pending.Pop();
            var type = current.GetType();
            if (!seen.Add(current) || IsLeaf(type))
            {
                continue;
            }

            if (current is PooledConnection or ConnectionLease or DbConnection or DbDataReader or TenantDbGuard.TenantConnectionLease)
            {
                found.Add(current);
                continue;
            }

            if (type.Assembly == typeof(MySqlConnection).Assembly || type.Assembly == typeof(TenantDbGuard.TenantDatabase).Assembly
                || type.Namespace?.StartsWith("TenantDbGuard.Analyzers.Tests", StringComparison.Ordinal) == true)
            {
                continue;
            }

            if (current is Array array)
            {
                if (!IsLeaf(type.GetElementType()!))
                {
                    foreach (var item in array)
                    {
                        Push(pending, item);
                    }
                }

                continue;
            }

            for (var declaring = type; declaring is not null; declaring = declaring.BaseType)
            {
                foreach (var field in declaring.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (!IsLeaf(field.FieldType))
                    {
                        Push(pending, field.GetValue(current));
                    }
                }
            }
        }

        return found.OrderBy(r => r is DbDataReader ? 0 : 1);
    }

    private static void Push(Stack<object> pending, object? value)
    {
        if (value is not null)
        {
            pending.Push(value);
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type.IsPointer || type == typeof(string) || type == typeof(decimal)
        || typeof(MemberInfo).IsAssignableFrom(type) || typeof(Assembly).IsAssignableFrom(type)
        || type == typeof(ExecutionContext) || type == typeof(Thread) || type == typeof(SynchronizationContext) || typeof(TaskScheduler).IsAssignableFrom(type);
}
