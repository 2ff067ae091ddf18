using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.PoolLifetime;

/// <summary>Small steps through the operation tree that both pool-lifetime rules take.</summary>
internal static class ValueFlow
{
    /// <summary>The operation under any conversions (<c>(IDisposable)pool</c> is still the pool).</summary>
    public static IOperation SkipConversions(IOperation operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    /// <summary>
    /// The operation that consumes <paramref name="value"/>, looking through what passes the value on unchanged:
    /// conversions, both branches of <c>?:</c>, <c>??</c> and switch-expression arms. <paramref name="consumed"/> is the
    /// child of the consumer that carries the value.
    /// </summary>
    public static IOperation? Consumer(IOperation value, out IOperation consumed)
    {
        var current = value;
        while (true)
        {
            var parent = current.Parent;
            switch (parent)
            {
                case IConversionOperation:
                case IConditionalOperation conditional when !ReferenceEquals(conditional.Condition, current):
                case ICoalesceOperation:
                case ISwitchExpressionArmOperation arm when ReferenceEquals(arm.Value, current):
                case ISwitchExpressionOperation switchExpression when !ReferenceEquals(switchExpression.Value, current):
                    current = parent;
                    continue;
                default:
                    consumed = current;
                    return parent;
            }
        }
    }

    /// <summary>The root of the operation tree that holds <paramref name="operation"/>: the member's whole body.</summary>
    public static IOperation Root(IOperation operation)
    {
        while (operation.Parent is not null)
        {
            operation = operation.Parent;
        }

        return operation;
    }

    /// <summary>Is <paramref name="operation"/> (under conversions) a read of <paramref name="local"/>?</summary>
    public static bool IsLocal(IOperation? operation, ILocalSymbol local) =>
        operation is not null
        && SkipConversions(operation) switch
        {
            ILocalReferenceOperation reference => SymbolEqualityComparer.Default.Equals(reference.Local, local),
            IDeclarationExpressionOperation { Expression: ILocalReferenceOperation declared } => SymbolEqualityComparer.Default.Equals(declared.Local, local),
            _ => false,
        };
}
