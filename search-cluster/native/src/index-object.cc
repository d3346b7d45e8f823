#include "index-object.h"

#include "add.h"
#include "remove.h"
#include "search.h"
#include "train.h"
#include "write.h"

namespace pixelfind {

Napi::Function IndexObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeIndex",
                     {
                         InstanceMethod<&IndexObject::Train>("train"),
                         InstanceMethod<&IndexObject::Add>("add"),
                         InstanceMethod<&IndexObject::Remove>("remove"),
                         InstanceMethod<&IndexObject::Search>("search"),
                         InstanceMethod<&IndexObject::Write>("write"),
                         InstanceMethod<&IndexObject::ToBuffer>("toBuffer"),
                         InstanceMethod<&IndexObject::Close>("close"),
                         InstanceAccessor<&IndexObject::GetDimension>("dimension"),
                         InstanceAccessor<&IndexObject::GetCount>("count"),
                         InstanceAccessor<&IndexObject::GetIsTrained>("isTrained"),
                         InstanceAccessor<&IndexObject::GetMemoryBytes>("memoryBytes"),
                         InstanceAccessor<&IndexObject::GetKind>("kind"),
                     });
}

Napi::Object IndexObject::NewInstance(Napi::Env env, IndexRef handle) {
  auto external = Napi::External<IndexRef>::New(env, new IndexRef(std::move(handle)),
                                                [](Napi::Env, IndexRef* ref) { delete ref; });
  return env.GetInstanceData<AddonData>()->indexConstructor.New({external});
}

IndexObject::IndexObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IndexObject>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeIndex is made by create(), read() or fromBuffer()");
  }
  handle_ = *info[0].As<Napi::External<IndexRef>>().Data();
}

IndexRef IndexObject::Handle(Napi::Env env) const {
  if (!handle_) throw Napi::Error::New(env, "The index is closed");
  return handle_;
}

Napi::Value IndexObject::Train(const Napi::CallbackInfo& info) {
  return QueueTrain(info.Env(), Handle(info.Env()), info[0]);
}

Napi::Value IndexObject::Add(const Napi::CallbackInfo& info) {
  return QueueAdd(info.Env(), Handle(info.Env()), info[0], info[1]);
}

Napi::Value IndexObject::Remove(const Napi::CallbackInfo& info) {
  return QueueRemove(info.Env(), Handle(info.Env()), info[0]);
}

Napi::Value IndexObject::Search(const Napi::CallbackInfo& info) {
  return QueueSearch(info.Env(), Handle(info.Env()), info[0], info[1], info[2]);
}

Napi::Value IndexObject::Write(const Napi::CallbackInfo& info) {
  return QueueWriteFile(info.Env(), Handle(info.Env()), info[0]);
}

Napi::Value IndexObject::ToBuffer(const Napi::CallbackInfo& info) {
  return QueueWriteBuffer(info.Env(), Handle(info.Env()));
}

Napi::Value IndexObject::Close(const Napi::CallbackInfo& info) {
  // Calls already queued keep their own reference and finish first.
  handle_.reset();
  return info.Env().Undefined();
}

Napi::Value IndexObject::GetDimension(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Handle(info.Env())->index->d);
}

Napi::Value IndexObject::GetCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Handle(info.Env())->index->ntotal));
}

Napi::Value IndexObject::GetIsTrained(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Handle(info.Env())->index->is_trained);
}

Napi::Value IndexObject::GetMemoryBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(EstimateBytes(Handle(info.Env())->index.get())));
}

Napi::Value IndexObject::GetKind(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), IndexKind(Handle(info.Env())->index.get()));
}

}  // namespace pixelfind
