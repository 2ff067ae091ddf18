using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using TenantDbGuard.Analyzers.Tests.Verifiers;

namespace TenantDbGuard.Analyzers.Tests.FixExecution;

/// <summary>
/// Test code compiled in memory against the runnable Prelude, and loaded afresh for every run into a collectible
/// load context, so that no static state of one run reaches the next.
/// </summary>
internal sealed class CaseAssembly
{
    private static readonly ImmutableArray<MetadataReference> References = TestReferences.Libraries
        .Append(MetadataReference.CreateFromFile(typeof(Prelude.Pool).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(TenantDatabase).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Logging.ILoggerFactory).Assembly.Location))
        .ToImmutableArray();

    private readonly byte[] _image;

    private CaseAssembly(CSharpCompilation compilation, byte[] image)
    {
        Compilation = compilation;
        _image = image;
    }

    public CSharpCompilation Compilation { get; }

    /// <summary>Compiles the sources; a compile error is a broken test case and fails it with the compiler's words.</summary>
    public static CaseAssembly Compile(string name, IEnumerable<string> sources, OutputKind outputKind)
    {
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = sources.Select((text, i) => CSharpSyntaxTree.ParseText(SourceText.From(text), parseOptions, $"/{name}/Test{i}.cs"));
        var compilation = CSharpCompilation.Create(
            $"{name}_{Guid.NewGuid():N}",
            trees,
            References,
            new CSharpCompilationOptions(outputKind, nullableContextOptions: NullableContextOptions.Disable, allowUnsafe: true));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        if (!result.Success)
        {
            var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);
            throw new InvalidOperationException($"The {name} code does not compile for the execution check:\n{string.Join("\n", errors)}");
        }

        return new CaseAssembly(compilation, image.ToArray());
    }

    /// <summary>A new copy of the assembly in a new collectible context; unload the context after the run.</summary>
    public Assembly Load(out AssemblyLoadContext context)
    {
        context = new AssemblyLoadContext(Compilation.AssemblyName, isCollectible: true);
        using var image = new MemoryStream(_image, writable: false);
        return context.LoadFromStream(image);
    }

    /// <summary>The members whose code holds one of <paramref name="spans"/> (the diagnostics of the test case).</summary>
    public IReadOnlyList<MemberUnderTest> MembersAt(IEnumerable<(int Source, TextSpan Span)> spans)
    {
        var members = new List<MemberUnderTest>();
        foreach (var (source, span) in spans)
        {
            var tree = Compilation.SyntaxTrees.ElementAt(source);
            var node = tree.GetRoot().FindNode(span, getInnermostNodeForTie: true);
            var model = Compilation.GetSemanticModel(tree);
            foreach (var member in MemberUnderTest.OwnerLifecycles(node, span, model) ?? [MemberUnderTest.Of(node, model)])
            {
                if (!members.Contains(member))
                {
                    members.Add(member);
                }
            }
        }

        return members;
    }
}

internal enum MemberKind
{
    Method,
    Constructor,
    Property,
    EntryPoint,

    /// <summary>A type that owns a connection in a field or property: constructed, used until it holds it, released.</summary>
    Lifecycle,
}

/// <summary>
/// The member the harness calls: by reflection name, so that it is found again in the fixed assembly. For a
/// <see cref="MemberKind.Lifecycle"/>, <see cref="Name"/> is the owning member, <see cref="Parameters"/> the constructor's,
/// and <see cref="Uses"/> the methods that store the connection in it (<c>Name(parameters)</c>, separated by <c>;</c>).
/// </summary>
internal sealed record MemberUnderTest(MemberKind Kind, string TypeName, string Name, string Parameters, int Flags = 0, string Uses = "")
{
    /// <summary>The runs that must acquire a connection between them: each constructor of an owner is one way to.</summary>
    public string Group => Kind == MemberKind.Lifecycle ? $"{TypeName}.{Name}" : ToString();

    /// <summary>
    /// A diagnostic on the name of a field or property (TDG005: the type does not release what it owns) is about the
    /// type's lifecycle, once for each of its constructors; <c>null</c> for a diagnostic inside a member's code.
    /// </summary>
    public static IEnumerable<MemberUnderTest>? OwnerLifecycles(SyntaxNode node, TextSpan span, SemanticModel model)
    {
        var owner = node switch
        {
            VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax } field when field.Identifier.Span == span => model.GetDeclaredSymbol(field),
            PropertyDeclarationSyntax property when property.Identifier.Span == span => model.GetDeclaredSymbol(property),
            _ => null,
        };
        if (owner is null)
        {
            return null;
        }

        var type = owner.ContainingType;
        var uses = type.GetMembers().OfType<IMethodSymbol>()
            .Where(m => m is { MethodKind: MethodKind.Ordinary, IsStatic: false } && Stores(m, owner, model.Compilation))
            .Select(m => $"{m.MetadataName}({Signature(m)})");
        return type.InstanceConstructors.Select(c => new MemberUnderTest(
            MemberKind.Lifecycle, ReflectionName(type), owner.MetadataName, Signature(c), c.Parameters.Count(p => p.Type.SpecialType == SpecialType.System_Boolean), string.Join(";", uses)));
    }

    public static MemberUnderTest Of(SyntaxNode node, SemanticModel model)
    {
        foreach (var ancestor in node.AncestorsAndSelf())
        {
            switch (ancestor)
            {
                case GlobalStatementSyntax:
                    return new MemberUnderTest(MemberKind.EntryPoint, string.Empty, string.Empty, string.Empty);
                case BaseMethodDeclarationSyntax or PropertyDeclarationSyntax:
                    return FromSymbol(model.GetDeclaredSymbol(ancestor)!);
                case FieldDeclarationSyntax field:
                    // A field initializer runs when the type is constructed.
                    var type = (INamedTypeSymbol)model.GetDeclaredSymbol(field.Declaration.Variables[0])!.ContainingType;
                    return FromSymbol(type.InstanceConstructors.OrderBy(c => c.Parameters.Length).First());
            }
        }

        throw new InvalidOperationException($"No member to call holds '{node}'.");
    }

    /// <summary>Does <paramref name="method"/> assign <paramref name="member"/>?</summary>
    private static bool Stores(IMethodSymbol method, ISymbol member, Compilation compilation) =>
        method.DeclaringSyntaxReferences.Select(r => r.GetSyntax()).Any(syntax => syntax.DescendantNodes()
            .OfType<AssignmentExpressionSyntax>()
            .Any(a => SymbolEqualityComparer.Default.Equals(compilation.GetSemanticModel(syntax.SyntaxTree).GetSymbolInfo(a.Left).Symbol, member)));

    public bool IsStatic(Type type) => Kind == MemberKind.EntryPoint || (Kind != MemberKind.Constructor && Find(type) is MethodBase { IsStatic: true } or PropertyInfo { GetMethod.IsStatic: true });

    /// <summary>The method, constructor or property in a loaded assembly.</summary>
    public MemberInfo Find(Type type)
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        MemberInfo? found = Kind switch
        {
            MemberKind.Constructor or MemberKind.Lifecycle => type.GetConstructors(All).FirstOrDefault(c => Signature(c) == Parameters),
            MemberKind.Property => type.GetProperty(Name, All),
            _ => type.GetMethods(All).FirstOrDefault(m => m.Name == Name && Signature(m) == Parameters),
        };
        return found ?? throw new InvalidOperationException($"{type.FullName} has no {Kind} {Name}({Parameters}) after the fix.");
    }

    public override string ToString() => Kind switch
    {
        MemberKind.EntryPoint => "the top-level statements",
        MemberKind.Lifecycle => $"new {TypeName}({Parameters}) owning {Name}",
        _ => $"{TypeName}.{Name}({Parameters})",
    };

    private static MemberUnderTest FromSymbol(ISymbol symbol)
    {
        var type = ReflectionName(symbol.ContainingType);
        return symbol switch
        {
            IMethodSymbol { MethodKind: MethodKind.Constructor } constructor => new(MemberKind.Constructor, type, ".ctor", Signature(constructor), constructor.Parameters.Count(p => p.Type.SpecialType == SpecialType.System_Boolean)),
            IMethodSymbol { AssociatedSymbol: IPropertySymbol property } => new(MemberKind.Property, type, property.MetadataName, string.Empty),
            IPropertySymbol property => new(MemberKind.Property, type, property.MetadataName, string.Empty),
            IMethodSymbol method => new(MemberKind.Method, type, method.MetadataName, Signature(method), method.Parameters.Count(p => p.Type.SpecialType == SpecialType.System_Boolean)),
            _ => throw new InvalidOperationException($"The execution check cannot call {symbol.Kind} {symbol.Name}."),
        };
    }

    private static string Signature(IMethodSymbol method) => string.Join(",", method.Parameters.Select(p => p.Name));

    private static string Signature(MethodBase method) => string.Join(",", method.GetParameters().Select(p => p.Name));

    private static string ReflectionName(INamedTypeSymbol type) =>
        type.ContainingType is { } outer
            ? ReflectionName(outer) + "+" + type.MetadataName
            : (type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString() + ".") + type.MetadataName;
}
