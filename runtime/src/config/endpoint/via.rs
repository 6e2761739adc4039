//! Reading `[endpoints.NAME.via]`: every key of the table is a route, read as
//! a variant of the externally tagged `RawRoute`.
//!
//! serde's own enum support reads exactly one key, and the TOML reader words
//! zero or two keys its own way ("wanted exactly 1 element"). Reading each
//! key as one route and keeping them all lets `resolve_endpoint` say what to
//! do instead ("give exactly one route"), and an unknown route is reported as
//! an unknown key of `via`, like any other unknown key in the file.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::RawRoute;

/// The routes under one `via`, in the file's order; a valid one has one.
pub(super) struct RawVia {
    pub(super) routes: Vec<RawRoute>,
}

impl<'de> Deserialize<'de> for RawVia {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RoutesVisitor)
    }
}

struct RoutesVisitor;

impl<'de> Visitor<'de> for RoutesVisitor {
    type Value = RawVia;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The words of the derived struct this replaced, so a `via` that is
        // not a table is refused with the message it always had.
        f.write_str("struct RawVia")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawVia, A::Error> {
        let mut routes = Vec::new();
        while let Some(tag) = map.next_key::<String>()? {
            routes.push(RawRoute::deserialize(Entry { tag, map: &mut map })?);
        }
        Ok(RawVia { routes })
    }
}

/// Reads nothing: says `key` is not one of `expected`.
struct UnknownKey<'a, T> {
    key: &'a str,
    expected: &'static [&'static str],
    value: PhantomData<T>,
}

impl<'de, T> DeserializeSeed<'de> for UnknownKey<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<T, D::Error> {
        Err(de::Error::unknown_field(self.key, self.expected))
    }
}

/// One `key = value` of the `via` table, seen as an enum: the key is the
/// variant, the value its settings.
struct Entry<'a, A> {
    tag: String,
    map: &'a mut A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Entry<'_, A> {
    type Error = A::Error;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        if !variants.contains(&self.tag.as_str()) {
            // Refused while its value is read, so the error carries the key's
            // path and line, as an unknown key of any other table does.
            return self.map.next_value_seed(UnknownKey {
                key: &self.tag,
                expected: variants,
                value: PhantomData,
            });
        }
        visitor.visit_enum(self)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a `via` entry is read as a route enum"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> de::EnumAccess<'de> for Entry<'_, A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), A::Error> {
        let tag: StrDeserializer<'_, A::Error> = self.tag.as_str().into_deserializer();
        let variant = seed.deserialize(tag)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for Entry<'_, A> {
    type Error = A::Error;

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    // Every route wraps a settings type (a newtype variant); the other shapes
    // exist only to complete the trait.
    fn unit_variant(self) -> Result<(), A::Error> {
        Err(de::Error::custom("a route variant must wrap its settings"))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a route variant must wrap its settings"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a route variant must wrap its settings"))
    }
}
