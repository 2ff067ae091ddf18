using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TenantDbGuard.Analyzers.ConnectionLeak;
using TenantDbGuard.Analyzers.Tests.Verifiers;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// How the names of <c>tenantdbguard.acquire_methods</c> and <c>tenantdbguard.release_methods</c> are read: lists as
/// users write them (copied from code, with type arguments and parentheses, any separator) give the methods they name
/// and nothing else.
/// </summary>
public sealed class NameConfigurationTests
{
    private const string Source = """
        namespace Legacy.Data
        {
            public class LegacyPool<TTenant>
            {
                public object Rent() => new object();
                public object Borrow() => new object();
            }

            public class Other
            {
                public object Rent() => new object();
                public class Nested
                {
                    public object Take() => new object();
                }
            }
        }
        """;

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("  ,; \t", new string[0])]
    [InlineData("Rent", new[] { "Rent" })]
    [InlineData("Rent,Borrow", new[] { "Rent", "Borrow" })]
    [InlineData("Rent; Borrow\tTake", new[] { "Rent", "Borrow", "Take" })]
    [InlineData("LegacyPool<A, B>.Rent(int id, string name), Other.Borrow()", new[] { "LegacyPool.Rent", "Other.Borrow" })]
    [InlineData("Pool<Dictionary<string, List<int>>>.Rent", new[] { "Pool.Rent" })]
    [InlineData("Pool.Rent(Func<int, int> f)", new[] { "Pool.Rent" })]
    public void A_list_is_split_into_names_without_their_call_syntax(string value, string[] expected)
    {
        Assert.Equal(expected, NameConfiguration.Entries(value));
    }

    [Fact]
    public void No_list_is_no_names()
    {
        Assert.Empty(NameConfiguration.Entries(null));
    }

    [Theory]
    [InlineData("LegacyPool<TTenant>.Rent()", "LegacyPool.Rent")]
    [InlineData("Rent", "Rent")]
    [InlineData("A<B<C>>.D<E>(F<G> g)", "A.D")]
    // A stray closing bracket does not swallow what follows it.
    [InlineData("Rent)Borrow", "RentBorrow")]
    [InlineData("Rent>)>.Borrow", "Rent.Borrow")]
    public void Call_syntax_is_left_out_of_a_name(string entry, string expected)
    {
        Assert.Equal(expected, NameConfiguration.WithoutCallSyntax(entry));
    }

    [Fact]
    public void Configured_names_join_the_built_in_and_attributed_ones()
    {
        var names = new NameConfiguration("Legacy.Data.LegacyPool.Rent, Borrow", "Pool.GiveBack; Recycle", ImmutableHashSet.Create("Lease"));

        Assert.Contains("Rent", names.AcquireNames);
        Assert.Contains("Borrow", names.AcquireNames);
        Assert.Contains("Lease", names.AcquireNames);
        Assert.Contains("GetConnection", names.AcquireNames);
        Assert.DoesNotContain("Legacy.Data.LegacyPool.Rent", names.AcquireNames);
        Assert.DoesNotContain("GiveBack", names.AcquireNames);

        Assert.Contains("GiveBack", names.ReleaseNames);
        Assert.Contains("Recycle", names.ReleaseNames);
        Assert.Contains("Dispose", names.ReleaseNames);
        Assert.DoesNotContain("Pool.GiveBack", names.ReleaseNames);
        Assert.DoesNotContain("Rent", names.ReleaseNames);
    }

    [Fact]
    public void Nothing_configured_leaves_the_built_in_names()
    {
        var names = new NameConfiguration("", "", ImmutableHashSet<string>.Empty);

        Assert.Equal(AcquisitionRules.BuiltInAcquireNames.OrderBy(n => n), names.AcquireNames.OrderBy(n => n));
        Assert.Equal(AcquisitionRules.BuiltInReleaseNames.OrderBy(n => n), names.ReleaseNames.OrderBy(n => n));
        Assert.False(names.IsConfiguredAcquisition(Method("Other", "Rent")));
    }

    [Theory]
    // A bare name: that method of any type.
    [InlineData("Rent", "LegacyPool", "Rent", true)]
    [InlineData("Rent", "Other", "Rent", true)]
    [InlineData("Rent", "LegacyPool", "Borrow", false)]
    // Type.Method: the type's own name, or its full name, type arguments left out.
    [InlineData("LegacyPool.Rent", "LegacyPool", "Rent", true)]
    [InlineData("LegacyPool.Rent", "Other", "Rent", false)]
    [InlineData("LegacyPool<T>.Rent()", "LegacyPool", "Rent", true)]
    [InlineData("Legacy.Data.LegacyPool.Rent", "LegacyPool", "Rent", true)]
    [InlineData("Legacy.Data.LegacyPool<TTenant>.Rent", "LegacyPool", "Rent", true)]
    [InlineData("Legacy.Data.Other.Rent", "LegacyPool", "Rent", false)]
    [InlineData("Other.Data.LegacyPool.Rent", "LegacyPool", "Rent", false)]
    [InlineData("Nested.Take", "Nested", "Take", true)]
    [InlineData("Legacy.Data.Other.Nested.Take", "Nested", "Take", true)]
    // Several entries: any of them.
    [InlineData("Other.Borrow, LegacyPool.Rent", "LegacyPool", "Rent", true)]
    [InlineData("Other.Borrow, Other.Rent", "LegacyPool", "Rent", false)]
    // An entry without a method name names nothing.
    [InlineData("LegacyPool.", "LegacyPool", "Rent", false)]
    public void A_configured_entry_names_the_methods_it_spells(string acquire, string type, string method, bool expected)
    {
        var names = new NameConfiguration(acquire, "", ImmutableHashSet<string>.Empty);

        Assert.Equal(expected, names.IsConfiguredAcquisition(Method(type, method)));
    }

    private static IMethodSymbol Method(string type, string method)
    {
        var compilation = CSharpCompilation.Create(
            "Names",
            [CSharpSyntaxTree.ParseText(Source)],
            TestReferences.Libraries,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var found = compilation.GetSymbolsWithName(type, SymbolFilter.Type).OfType<INamedTypeSymbol>().Single();
        return found.GetMembers(method).OfType<IMethodSymbol>().Single();
    }
}
